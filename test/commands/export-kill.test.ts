import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commitManifestPath, recoverCommit } from '../../src/sinks/commit.js';
import { runEntra } from '../helpers/cli.js';
import { sampleTenant } from '../helpers/emulator.js';
import { withHarness, type Harness } from '../helpers/export-harness.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const SELECT = 'user=displayName,mail';

/** The files a run leaves when nothing is pending: CSV, cookies; no temp file, backup, manifest or lock. */
const STRAY = /\.(tmp|bak|stale)$|_commit\.json$|\.lock$/;

/** Cookie files only. */
const cookiesOf = (files: Map<string, string>) =>
  JSON.stringify([...files].filter(([name]) => name.startsWith('cookies/') && !STRAY.test(name)));

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

Kill.run();
