import { spawn } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { commitManifestPath, recoverCommit } from '../../src/sinks/commit.js';
import { committedRun, snapshotPath } from '../../src/sinks/snapshot.js';
import { apply, lines, truth, type Model } from '../helpers/diff-model.js';
import { entraArgs, runEntra } from '../helpers/cli.js';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { withHarness, type Harness } from '../helpers/export-harness.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const SELECT = 'user=displayName,mail';

/** The files a run leaves when nothing is pending: CSV, cookies; no temp file, backup, manifest or lock. */
const STRAY = /\.(tmp|bak|stale|part)$|_commit\.json$|\.lock$/;

/** Cookie files only. */
const cookiesOf = (files: Map<string, string>) =>
  JSON.stringify([...files].filter(([name]) => name.startsWith('cookies/') && !STRAY.test(name)));

/** One entity, one link table: fewer files, so fewer kill points (each a child process). */
const DIFF_SELECT = ['group=displayName,members'];
const DIFF_TABLES = ['directoryobjects', 'members_group'];
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';

const Kill = suite('exportCommand (killed in the commit step)');

Kill(
  'a kill at every write and rename of the commit step, then two runs: every change reaches a file read after a committed run',
  async () => {
    let steps = 0;
    for (let k = 1; ; k++) {
      let finished = false;
      await withHarness({ tenant: await sampleTenant() }, async (h: Harness) => {
        /** What a consumer read: the rows of the files of each committed run. */
        const consumed: string[] = [];
        const consume = async () => consumed.push(...(await h.read('directoryobjects')).split('\n').slice(1));
        assert.is((await h.run({ select: [SELECT] })).code, 0);
        await consume();

        h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
        const before = await h.snapshot();
        const killed = await runEntra(
          [
            'export',
            '-s',
            h.settingsFile,
            '--ca',
            h.caFile,
            '-o',
            h.out,
            '--cookies',
            h.cookies,
            '--select',
            SELECT,
            '-q',
          ],
          { env: { ENTRA_TEST_KILL_AT_COMMIT_STEP: String(k) } },
        );
        if (killed.code === 0) return void (finished = true);
        assert.is(killed.signal, 'SIGKILL', killed.stderr);
        const label = /killed at commit step \d+ \((.*)\)/.exec(killed.stderr)?.[1] ?? '?';
        steps++;

        // What the next run does first: the killed commit is undone, or (past its commit point) kept.
        await recoverCommit(commitManifestPath(h.cookies, 'Contoso'));
        const after = new Map([...(await h.snapshot())].filter(([name]) => !STRAY.test(name)));
        if (cookiesOf(after) === cookiesOf(before)) {
          assert.equal(after, before, `step ${k} (${label}): the previous files, byte for byte`);
        } else {
          assert.match(await h.read('directoryobjects'), /adele@contoso\.com/, `step ${k} (${label})`);
          await consume();
        }

        h.emu.tenant.createUser({ displayName: 'Nina Novak', mail: 'nina@contoso.com' });
        const b = await h.run({ select: [SELECT] });
        assert.is(b.code, 0, b.stderr);
        assert.match(b.stderr, /took over the lock of a run that is gone/, `step ${k}`);
        await consume();
        assert.equal(
          [...(await h.snapshot()).keys()].filter((n) => STRAY.test(n)),
          [],
          `step ${k}: left behind`,
        );

        h.emu.tenant.delete(LEE);
        assert.is((await h.run({ select: [SELECT] })).code, 0);
        await consume();

        for (const change of [
          /,adele@contoso\.com$/,
          /^update,.*,Nina Novak,/,
          new RegExp(`^delete,.*,${LEE},$`),
        ])
          assert.ok(
            consumed.some((row) => change.test(row)),
            `step ${k} (${label}): ${change} never reached a consumer:\n${consumed.join('\n')}`,
          );
      });
      if (finished) break;
    }
    // 2 for the manifest, 4 per file (backup, rename) but for a first cookie, 2 to remove the manifest.
    assert.ok(steps >= 12, `${steps} kill points`);
  },
);

Kill(
  "a kill at every write and rename of the FIRST run's commit, then two runs with changes between: every object and change reaches a file",
  async () => {
    let steps = 0;
    for (let k = 1; ; k++) {
      let finished = false;
      await withHarness({ tenant: await sampleTenant() }, async (h: Harness) => {
        const users = h.emu.tenant.list('user').map((u) => u.id);
        /** What a consumer read: the rows of the files of each committed run. */
        const consumed: string[] = [];
        const consume = async () => consumed.push(...(await h.read('directoryobjects')).split('\n').slice(1));
        const killed = await runEntra(
          [
            'export',
            '-s',
            h.settingsFile,
            '--ca',
            h.caFile,
            '-o',
            h.out,
            '--cookies',
            h.cookies,
            '--select',
            SELECT,
            '-q',
          ],
          { env: { ENTRA_TEST_KILL_AT_COMMIT_STEP: String(k) } },
        );
        if (killed.code === 0) return void (finished = true);
        assert.is(killed.signal, 'SIGKILL', killed.stderr);
        const label = /killed at commit step \d+ \((.*)\)/.exec(killed.stderr)?.[1] ?? '?';
        const where = `step ${k} (${label})`;
        steps++;

        // The next run undoes the killed commit first (or keeps it, past its commit point).
        await recoverCommit(commitManifestPath(h.cookies, 'Contoso'));
        const after = [...(await h.snapshot()).keys()].filter((name) => !STRAY.test(name));
        if (after.some((name) => name.startsWith('cookies/'))) {
          // Committed: its CSV is complete, and it is what a consumer reads.
          assert.ok(after.includes('out/Contoso_directoryobjects.csv'), where);
          await consume();
        } else assert.equal(after, [], `${where}: nothing of the killed first run is left`);

        h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
        const b = await h.run({ select: [SELECT] });
        assert.is(b.code, 0, b.stderr);
        await consume();
        assert.equal(
          [...(await h.snapshot()).keys()].filter((n) => STRAY.test(n)),
          [],
          `${where}: left behind`,
        );

        h.emu.tenant.createUser({ displayName: 'Nina Novak', mail: 'nina@contoso.com' });
        h.emu.tenant.delete(LEE);
        const c = await h.run({ select: [SELECT] });
        assert.is(c.code, 0, c.stderr);
        await consume();

        for (const id of users)
          assert.ok(
            consumed.some((row) => row.includes(`,${id},`)),
            `${where}: user ${id} never reached a consumer`,
          );
        for (const change of [
          /,adele@contoso\.com$/,
          /^(insert|update),.*,Nina Novak,/,
          new RegExp(`^delete,.*,${LEE},$`),
        ])
          assert.ok(
            consumed.some((row) => change.test(row)),
            `${where}: ${change} never reached a consumer:\n${consumed.join('\n')}`,
          );
      });
      if (finished) break;
    }
    // The manifest, the new files' renames (nothing to back up yet), the commit point, the cleanup.
    assert.ok(steps >= 6, `${steps} kill points`);
  },
);

/** The snapshot's cookie hashes and the cookie files' agree; its objects and links are the consumer's. */
async function assertConsistent(h: Harness, model: Model, where: string): Promise<void> {
  const db = new Database(snapshotPath(h.cookies, 'Contoso'), { readonly: true });
  try {
    for (const r of db.prepare('SELECT entity, cookie_sha256 FROM rounds').all() as {
      entity: string;
      cookie_sha256: string;
    }[]) {
      const link = (await readFile(join(h.cookies, `Contoso_cookie_${r.entity}.bin`), 'utf8')).trim();
      assert.is(
        r.cookie_sha256,
        createHash('sha256').update(link).digest('hex'),
        `${where}: ${r.entity} cookie`,
      );
    }
    const ids = db.prepare('SELECT id FROM objects').pluck().all() as string[];
    assert.equal(ids.sort(), [...model.objects.keys()].sort(), `${where}: snapshot objects`);
    const links = db
      .prepare("SELECT link_table || ' ' || source_id || ' ' || target_id FROM links")
      .pluck()
      .all() as string[];
    assert.equal(links.sort(), [...model.links].sort(), `${where}: snapshot links`);
  } finally {
    db.close();
  }
}

Kill(
  '--diff: a kill at every write and rename of the commit step leaves CSVs, cookies and snapshot consistent; the next runs give exact changes',
  async () => {
    let steps = 0;
    for (let k = 1; ; k++) {
      let finished = false;
      await withHarness({ tenant: await sampleTenant() }, async (h: Harness) => {
        const model: Model = { objects: new Map(), links: new Set() };
        assert.is((await h.run({ select: DIFF_SELECT, diff: true })).code, 0);
        await apply(h, model, 'first', DIFF_TABLES);

        h.emu.tenant.update(SALES, { displayName: 'Sales' });
        h.emu.tenant.purge(LEE);
        const cookieFiles = (files: Map<string, string>) =>
          JSON.stringify([...files].filter(([name]) => /_cookie_/.test(name) && !STRAY.test(name)));
        const cookiesBefore = cookieFiles(await h.snapshot());
        const killed = await runEntra(
          [
            'export',
            '-s',
            h.settingsFile,
            '--ca',
            h.caFile,
            '-o',
            h.out,
            '--cookies',
            h.cookies,
            '-q',
            '--diff',
            ...DIFF_SELECT.flatMap((s) => ['--select', s]),
          ],
          { env: { ENTRA_TEST_KILL_AT_COMMIT_STEP: String(k) } },
        );
        if (killed.code === 0) return void (finished = true);
        assert.is(killed.signal, 'SIGKILL', killed.stderr);
        const label = /killed at commit step \d+ \((.*)\)/.exec(killed.stderr)?.[1] ?? '?';
        steps++;
        const where = `step ${k} (${label})`;

        // What the next run does first: undo the killed commit, or keep it past its commit point.
        const file = snapshotPath(h.cookies, 'Contoso');
        await recoverCommit(commitManifestPath(h.cookies, 'Contoso'), {
          isCommitted: (run) => committedRun(file) === run,
        });
        const after = await h.snapshot();
        if (cookieFiles(after) !== cookiesBefore) await apply(h, model, where, DIFF_TABLES);
        await assertConsistent(h, model, where);

        h.emu.tenant.addMember(ENGINEERING, ADELE);
        const b = await h.run({ select: DIFF_SELECT, diff: true });
        assert.is(b.code, 0, b.stderr);
        await apply(h, model, `${where}, next run`, DIFF_TABLES);
        await assertConsistent(h, model, `${where}, next run`);
        assert.equal(lines(model), lines(await truth(h, DIFF_SELECT, DIFF_TABLES)), where);
        assert.equal(
          [...(await h.snapshot()).keys()].filter((n) => STRAY.test(n) || n.endsWith('-journal')),
          [],
          `${where}: left behind`,
        );
      });
      if (finished) break;
    }
    assert.ok(steps >= 20, `${steps} kill points`);
  },
);

Kill(
  '--diff: SIGKILL at random moments leaves CSVs, cookies and snapshot consistent with each other; the next run gives the exact changes',
  async () =>
    withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h: Harness) => {
      const model: Model = { objects: new Map(), links: new Set() };
      assert.is((await h.run({ select: DIFF_SELECT, diff: true })).code, 0);
      await apply(h, model, 'first', DIFF_TABLES);
      const cookieFiles = (files: Map<string, string>) =>
        JSON.stringify([...files].filter(([name]) => /_cookie_/.test(name) && !STRAY.test(name)));
      const file = snapshotPath(h.cookies, 'Contoso');
      const changes = [
        () => h.emu.tenant.update(SALES, { displayName: 'Sales' }),
        () => h.emu.tenant.addMember(ENGINEERING, ADELE),
        () => h.emu.tenant.purge(LEE),
      ];
      let killed = 0;
      for (const [i, change] of changes.entries()) {
        change();
        const cookiesBefore = cookieFiles(await h.snapshot());
        // The first run is killed at a random moment while it talks to Graph (every answer takes 400 ms,
        // and after its first one two more are needed); the others at a random step of their commit.
        const step = i === 0 ? undefined : 1 + Math.floor(Math.random() * 14);
        h.emu.faults.latency = { fixedMs: i === 0 ? 400 : 0, jitterMs: 0 };
        const seen = h.emu.requests.length;
        const args = ['export', '-s', h.settingsFile, '--ca', h.caFile, '-o', h.out, '--cookies', h.cookies];
        const select = DIFF_SELECT.flatMap((x) => ['--select', x]);
        const child = spawn(process.execPath, [...entraArgs(), ...args, ...select, '--diff', '-q'], {
          stdio: 'ignore',
          env: { ...process.env, ...(step ? { ENTRA_TEST_KILL_AT_COMMIT_STEP: String(step) } : {}) },
        });
        let done = false;
        const ended = new Promise<NodeJS.Signals | null>((resolve) =>
          child.once('close', (_code, signal) => ((done = true), resolve(signal))),
        );
        if (step === undefined) {
          while (!done && h.emu.requests.length === seen) await sleep(5);
          await sleep(Math.random() * 700);
          child.kill('SIGKILL');
        }
        if ((await ended) === 'SIGKILL') killed++;
        h.emu.faults.latency = { fixedMs: 0, jitterMs: 0 };
        const where = `kill ${i}`;
        // What the next run does first: undo the killed commit, or keep it past its commit point.
        await recoverCommit(commitManifestPath(h.cookies, 'Contoso'), {
          isCommitted: (run) => committedRun(file) === run,
        });
        if (cookieFiles(await h.snapshot()) !== cookiesBefore) await apply(h, model, where, DIFF_TABLES);
        await assertConsistent(h, model, where);
      }
      const next = await h.run({ select: DIFF_SELECT, diff: true });
      assert.is(next.code, 0, next.stderr);
      await apply(h, model, 'next run', DIFF_TABLES);
      await assertConsistent(h, model, 'next run');
      assert.equal(lines(model), lines(await truth(h, DIFF_SELECT, DIFF_TABLES)));
      assert.equal(
        [...(await h.snapshot()).keys()].filter((n) => STRAY.test(n) || n.endsWith('-journal')),
        [],
        'left behind',
      );
      assert.ok(killed >= 1, `${killed} of ${changes.length} runs killed before they ended`);
    }),
);

Kill.run();
