import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkpointPath, readCheckpoint } from '../../src/sinks/resume.js';
import { runEntra } from '../helpers/cli.js';
import { SMALL_LIMITS } from '../helpers/emulator.js';
import { runExport, withHarness, type Harness } from '../helpers/export-harness.js';

const Resume = suite('exportCommand (resumable rounds)');

/** Small pages, groups whose members span pages: many pages, and objects repeated on the next page. */
const TENANT = { generate: { users: 40, groups: 6, seed: 7 }, deltaLimits: SMALL_LIMITS };
const PAGES = { ENTRA_TEST_CHECKPOINT_PAGES: '3' };

/** Every table of a folder, each file's lines sorted (users and groups rounds interleave). */
async function tablesOf(dir: string): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  for (const name of (await readdir(dir)).sort())
    out.set(name, (await readFile(join(dir, name), 'utf8')).split('\n').sort());
  return out;
}

/** The delta requests the emulator answered since `from`. */
const deltaRequests = (h: Harness, from: number) =>
  h.emu.requests.slice(from).filter((r) => r.path.includes('/delta')).length;

/** An uninterrupted scheduled round, into its own folders: the reference. */
async function reference(h: Harness) {
  const before = h.emu.requests.length;
  const r = await h.run({ output: join(h.dir, 'ref'), cookies: join(h.dir, 'ref-cookies') });
  assert.is(r.code, 0, r.stderr);
  return { tables: await tablesOf(join(h.dir, 'ref')), requests: deltaRequests(h, before) };
}

/** `entra export` in a child process, killed (SIGKILL) right after its `k`-th checkpoint (or page). */
async function killedRun(
  h: Harness,
  k: number,
  env: NodeJS.ProcessEnv = {},
  at = 'checkpoint',
  args: string[] = [],
) {
  const killed = await runEntra(
    ['export', '-s', h.settingsFile, '--ca', h.caFile, '-o', h.out, '--cookies', h.cookies, '-q', ...args],
    { env: { ...PAGES, [`ENTRA_TEST_KILL_AT_${at.toUpperCase()}`]: String(k), ...env } },
  );
  assert.is(killed.signal, 'SIGKILL', killed.stderr);
  assert.match(killed.stderr, `killed after ${at} ${k}`);
}

/** `--parallel auto` (the default) partitions even this small tenant on this near emulator. */
const PARTITIONED = { ENTRA_TEST_PARALLEL_AUTO_ALWAYS: '1' };
/** Users and groups only: both partitioned, no sequential round beside them. */
const SELECT = ['user=displayName,mail', 'group=displayName,members,owners'];

const resumeRun = (h: Harness) =>
  runExport({ settings: h.settingsFile, ca: h.caFile, output: h.out, cookies: h.cookies }, PAGES);

Resume(
  'a round killed mid-way continues from its checkpoint: every row exactly once, fewer requests',
  async () => {
    await withHarness(TENANT, async (h) => {
      const ref = await reference(h);
      await killedRun(h, 4);
      const cp = await readCheckpoint(checkpointPath(h.cookies, 'Contoso'));
      assert.ok(cp, 'a checkpoint is left');
      assert.ok(
        Object.values(cp.rounds).some((r) => r?.next),
        'it holds a nextLink',
      );
      assert.ok(
        (await readdir(h.out)).every((n) => n.endsWith('.part')),
        'nothing under a final name yet',
      );

      const before = h.emu.requests.length;
      const r = await resumeRun(h);
      assert.is(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming the round a previous run left at its checkpoint/);
      assert.not.match(r.stderr, /checkpoint for other|starting the round over/);
      assert.equal(await tablesOf(h.out), ref.tables, 'the same rows as an uninterrupted round, each once');
      const resumed = deltaRequests(h, before);
      assert.ok(
        resumed < ref.requests,
        `${resumed} delta requests after the kill, ${ref.requests} for a whole round`,
      );
      assert.equal(
        await readCheckpoint(checkpointPath(h.cookies, 'Contoso')),
        undefined,
        'checkpoint removed',
      );

      // And the next run is incremental, as after any committed round.
      const next = await h.run();
      assert.is(next.code, 0, next.stderr);
      assert.match(next.stderr, /user incremental/);
    });
  },
);

Resume(
  'links Graph no longer honours: the round starts over, with one warning, and still every row once',
  async () => {
    await withHarness(TENANT, async (h) => {
      const ref = await reference(h);
      await killedRun(h, 2);
      // State tokens live 7 days (delta-query-overview.md): a week later the checkpoint's links are gone.
      h.emu.clock.advance(8 * 24 * 3600 * 1000);
      const before = h.emu.requests.length;
      const r = await resumeRun(h);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stderr.match(/starting the round over from its first page/g)?.length, 1, r.stderr);
      assert.equal(await tablesOf(h.out), ref.tables);
      assert.ok(deltaRequests(h, before) >= ref.requests);
    });
  },
);

Resume('a checkpoint for other settings is not used: one warning, a whole round', async () => {
  await withHarness(TENANT, async (h) => {
    await killedRun(h, 2);
    const other = join(h.dir, 'elsewhere');
    const r = await runExport(
      { settings: h.settingsFile, ca: h.caFile, output: other, cookies: h.cookies },
      PAGES,
    );
    assert.is(r.code, 0, r.stderr);
    assert.is(r.stderr.match(/checkpoint for other settings/g)?.length, 1, r.stderr);
    assert.equal(
      (await readdir(h.out)).filter((n) => n.endsWith('.part')),
      [],
      'the old part files are removed',
    );
    const ref = await reference(h);
    assert.equal(
      (await tablesOf(other)).get('Contoso_directoryobjects.csv')?.length,
      ref.tables.get('Contoso_directoryobjects.csv')?.length,
    );
  });
});

Resume(
  '--parallel partitions (auto, the default, on a large tenant): a run killed mid-partition keeps no checkpoint of it; the next run reads that round again: every row once',
  async () => {
    await withHarness(TENANT, async (h) => {
      const ref = await h.run({
        output: join(h.dir, 'ref'),
        cookies: join(h.dir, 'ref-cookies'),
        select: SELECT,
      });
      assert.is(ref.code, 0, ref.stderr);
      // Killed while the partitions' pages were being written: no checkpoint names a partition.
      const from = h.emu.requests.length;
      await killedRun(
        h,
        3,
        { ...PARTITIONED, ENTRA_TEST_CHECKPOINT_PAGES: '1' },
        'page',
        SELECT.flatMap((s) => ['--select', s]),
      );
      assert.ok(
        h.emu.requests.slice(from).some((q) => q.path.includes('startswith')),
        'the killed run listed partitions',
      );
      const cp = await readCheckpoint(checkpointPath(h.cookies, 'Contoso'));
      for (const entity of ['user', 'group'] as const) {
        const round = cp?.rounds[entity];
        assert.ok(
          !round || round.deltaLink || round.pages === 0,
          `${entity}: ended, or not begun (${JSON.stringify(round)})`,
        );
      }
      const r = await runExport(
        { settings: h.settingsFile, ca: h.caFile, output: h.out, cookies: h.cookies, select: SELECT },
        { ...PAGES, ...PARTITIONED },
      );
      assert.is(r.code, 0, r.stderr);
      assert.equal(
        await tablesOf(h.out),
        await tablesOf(join(h.dir, 'ref')),
        'the same rows as an uninterrupted round, each once',
      );
      assert.equal(
        (await readdir(h.cookies)).filter((n) => n.includes('resume')),
        [],
        'checkpoint removed',
      );
    });
  },
);

Resume(
  '--diff after a killed run: the round starts over (one info line), and the killed part is not taken for deletes',
  async () => {
    await withHarness(TENANT, async (h) => {
      const before = h.emu.requests.length;
      const ref = await h.run({
        output: join(h.dir, 'ref'),
        cookies: join(h.dir, 'ref-cookies'),
        diff: true,
      });
      assert.is(ref.code, 0, ref.stderr);
      const whole = deltaRequests(h, before);
      await killedRun(h, 4);
      const from = h.emu.requests.length;
      const r = await runExport(
        { settings: h.settingsFile, ca: h.caFile, output: h.out, cookies: h.cookies, diff: true },
        PAGES,
      );
      assert.is(r.code, 0, r.stderr);
      assert.is(
        r.stderr.match(/--diff: a previous run left a checkpoint; its round starts over/g)?.length,
        1,
        r.stderr,
      );
      assert.not.match(r.stderr, /resuming/);
      assert.is(deltaRequests(h, from), whole, 'a whole round');
      const tables = await tablesOf(h.out);
      assert.equal(tables, await tablesOf(join(h.dir, 'ref')), 'the rows of an uninterrupted --diff run');
      assert.ok(
        [...tables.values()].flat().every((line) => !line.startsWith('delete,')),
        'no delete row',
      );
      assert.equal(
        (await readdir(h.cookies)).filter((n) => n.includes('resume')),
        [],
        'checkpoint removed',
      );
    });
  },
);

Resume.run();
