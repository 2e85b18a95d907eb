import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkpointPath, readCheckpoint } from '../../src/sinks/resume.js';
import { runEntra } from '../helpers/cli.js';
import { SMALL_LIMITS } from '../helpers/emulator.js';
import type { ExportArgs } from '../../src/commands/export.js';
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

/** `--parallel 3` partitions, lists in pages of 4 objects: chains of several pages, many checkpoints. */
const PARALLEL = { ENTRA_TEST_PARALLEL_PAGE: '4', ENTRA_TEST_CHECKPOINT_PAGES: '2' };
/** Groups' members in slices of 3: most pages of a group's chain end mid-group (its repeat comes next). */
const PARALLEL_TENANT = { ...TENANT, deltaLimits: { ...SMALL_LIMITS, links: 3 } };
const PARALLEL_ARGS = ['--parallel', '3', ...SELECT.flatMap((s) => ['--select', s])];
const partitionedRun = (h: Harness, args: Partial<ExportArgs> = {}) =>
  runExport(
    {
      settings: h.settingsFile,
      ca: h.caFile,
      output: h.out,
      cookies: h.cookies,
      select: SELECT,
      parallel: 3,
      ...args,
    },
    PARALLEL,
  );
/** Requests that read the round (lists and delta pages, not the plan's counts). */
const readRequests = (h: Harness, from: number) =>
  h.emu.requests.slice(from).filter((r) => !r.path.includes('$count') && r.path.includes('/v1.0/')).length;

Resume(
  '--parallel partitions: a round killed mid-way continues from its checkpoint: every row exactly once, fewer requests',
  async () => {
    await withHarness(PARALLEL_TENANT, async (h) => {
      let from = h.emu.requests.length;
      const ref = await partitionedRun(h, {
        output: join(h.dir, 'ref'),
        cookies: join(h.dir, 'ref-cookies'),
      });
      assert.is(ref.code, 0, ref.stderr);
      const whole = readRequests(h, from);
      from = h.emu.requests.length;
      await killedRun(h, 6, PARALLEL, 'checkpoint', PARALLEL_ARGS);
      const killed = readRequests(h, from);
      const cp = await readCheckpoint(checkpointPath(h.cookies, 'Contoso'));
      const mid = Object.values(cp?.rounds ?? {}).filter((r) => r?.parallel);
      assert.ok(mid.length > 0, `a partitioned round mid-way: ${JSON.stringify(cp?.rounds)}`);
      assert.ok(
        mid.some((r) => r.parallel!.chains.some((url) => url.includes('skiptoken'))),
        'a chain stopped after its first page',
      );

      from = h.emu.requests.length;
      const r = await partitionedRun(h, { parallel: 2 });
      assert.is(r.code, 0, r.stderr);
      assert.match(r.stderr, /resuming the round a previous run left at its checkpoint/);
      assert.not.match(r.stderr, /checkpoint for other|starting the round over/);
      assert.ok(
        !h.emu.requests.slice(from).some((q) => q.path.includes('$count') || q.path.includes('latest')),
        'neither counted nor planned again',
      );
      assert.equal(
        await tablesOf(h.out),
        await tablesOf(join(h.dir, 'ref')),
        'the same rows as an uninterrupted round, each once (inserts stay inserts)',
      );
      const resumed = readRequests(h, from);
      assert.ok(
        resumed < whole,
        `${resumed} requests after the kill (${killed} before it), ${whole} for a whole round`,
      );
      assert.equal(
        (await readdir(h.cookies)).filter((n) => n.includes('resume')),
        [],
        'checkpoint removed',
      );
      const next = await h.run({ select: SELECT });
      assert.is(next.code, 0, next.stderr);
      assert.match(next.stderr, /user incremental, group incremental/);
    });
  },
);

Resume(
  '--parallel partitions: links Graph no longer honours (an expired skip token): the round starts over, one warning',
  async () => {
    await withHarness(TENANT, async (h) => {
      const ref = await partitionedRun(h, {
        output: join(h.dir, 'ref'),
        cookies: join(h.dir, 'ref-cookies'),
      });
      assert.is(ref.code, 0, ref.stderr);
      await killedRun(h, 4, PARALLEL, 'checkpoint', PARALLEL_ARGS);
      h.emu.clock.advance(8 * 24 * 3600 * 1000);
      const r = await partitionedRun(h);
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stderr.match(/starting the round over from its first page/g)?.length, 1, r.stderr);
      assert.match(r.stderr, /no longer honours the checkpointed (user|group) link \(400 /);
      assert.equal(await tablesOf(h.out), await tablesOf(join(h.dir, 'ref')));
    });
  },
);

Resume(
  '--parallel partitions: a checkpoint for other settings is dropped: one warning, a whole round',
  async () => {
    await withHarness(TENANT, async (h) => {
      await killedRun(h, 3, PARALLEL, 'checkpoint', PARALLEL_ARGS);
      const cp = await readCheckpoint(checkpointPath(h.cookies, 'Contoso'));
      assert.ok(Object.values(cp?.rounds ?? {}).some((r) => r?.parallel));
      const select = ['user=displayName', 'group=displayName,members,owners'];
      const r = await partitionedRun(h, { select });
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stderr.match(/checkpoint for other settings/g)?.length, 1, r.stderr);
      assert.not.match(r.stderr, /resuming/);
      const ref = await partitionedRun(h, {
        select,
        output: join(h.dir, 'ref'),
        cookies: join(h.dir, 'ref-cookies'),
      });
      assert.is(ref.code, 0, ref.stderr);
      assert.equal(await tablesOf(h.out), await tablesOf(join(h.dir, 'ref')));
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
