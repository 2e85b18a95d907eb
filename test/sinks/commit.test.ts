import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commitManifestPath, commitStaged, recoverCommit } from '../../src/sinks/commit.js';
import { withDir } from '../helpers/common.js';

/** The files of `dir` and their text. */
async function contents(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const name of (await readdir(dir)).sort()) out[name] = await readFile(join(dir, name), 'utf8');
  return out;
}

/** a.csv (old) and b.bin (absent) replaced by staged .a.tmp and .b.tmp. */
async function stage(dir: string) {
  await writeFile(join(dir, 'a.csv'), 'old a');
  await writeFile(join(dir, '.a.tmp'), 'new a');
  await writeFile(join(dir, '.b.tmp'), 'new b');
  return [
    { temp: join(dir, '.a.tmp'), final: join(dir, 'a.csv') },
    { temp: join(dir, '.b.tmp'), final: join(dir, 'b.bin') },
  ];
}

/** Runs a commit that throws at its `k`-th step, as a kill there would stop it. */
async function killedAt(dir: string, k: number): Promise<string | undefined> {
  let n = 0;
  let label: string | undefined;
  const halt = new Error('killed');
  try {
    await commitStaged(commitManifestPath(dir, 'Contoso'), await stage(dir), {
      run: 'r1',
      commitPoint: () => {},
      onStep: (l) => {
        if (++n === k) {
          label = l;
          throw halt;
        }
      },
    });
  } catch (e) {
    if (e !== halt && (e as Error).cause !== halt) throw e;
  }
  return label;
}

const Commit = suite('commitStaged');

Commit(
  'commitStaged(manifest, files) renames every staged file into place, leaving no manifest or backup',
  () =>
    withDir(async (dir) => {
      const calls: string[] = [];
      await commitStaged(commitManifestPath(dir, 'Contoso'), await stage(dir), {
        commitPoint: () => void calls.push('commit'),
        onStep: (l) => calls.push(l),
      });
      assert.equal(await contents(dir), { 'a.csv': 'new a', 'b.bin': 'new b' });
      assert.equal(calls, [
        'write manifest',
        'manifest written',
        'back up a.csv',
        'backed up a.csv',
        'rename a.csv',
        'renamed a.csv',
        'rename b.bin',
        'renamed b.bin',
        'commit snapshot',
        'commit',
        'snapshot committed',
        'remove manifest',
        'manifest removed',
      ]);
    }),
);

Commit.run();

// ---

const Recover = suite('recoverCommit');

Recover(
  'recoverCommit(manifest) after a kill at each step before the commit point puts the old files back',
  async () => {
    for (let k = 1; k <= 10; k++)
      await withDir(async (dir) => {
        const label = await killedAt(dir, k);
        assert.ok(label, `step ${k}`);
        const done = await recoverCommit(commitManifestPath(dir, 'Contoso'), { isCommitted: () => false });
        // Killed before the manifest: nothing moved, and the staged temp files are swept by the next run.
        assert.is(done, k === 1 ? undefined : 'rolled back', label);
        const files = await contents(dir);
        if (k === 1) for (const name of ['.a.tmp', '.b.tmp']) delete files[name];
        assert.equal(files, { 'a.csv': 'old a' }, label);
      });
  },
);

Recover(
  'recoverCommit(manifest) after the commit point keeps the new files and removes the backups',
  async () => {
    for (const k of [11, 12])
      await withDir(async (dir) => {
        const label = await killedAt(dir, k);
        const done = await recoverCommit(commitManifestPath(dir, 'Contoso'), {
          isCommitted: (run) => run === 'r1',
        });
        assert.is(done, k === 11 ? 'committed' : undefined, label);
        const files = await contents(dir);
        assert.is(files['a.csv'], 'new a', label);
        assert.is(files['b.bin'], 'new b', label);
        if (k === 11) assert.equal(Object.keys(files), ['a.csv', 'b.bin'], label);
      });
  },
);

Recover('recoverCommit(manifest) finishes a version-1 manifest (no backups) as before', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'a.csv'), 'new a');
    await writeFile(join(dir, '.b.tmp'), 'new b');
    const manifest = commitManifestPath(dir, 'Contoso');
    await writeFile(
      manifest,
      JSON.stringify({
        version: 1,
        files: [
          { temp: join(dir, '.a.tmp'), final: join(dir, 'a.csv') },
          { temp: join(dir, '.b.tmp'), final: join(dir, 'b.bin') },
        ],
      }),
    );
    assert.is(await recoverCommit(manifest), 'committed');
    assert.equal(await contents(dir), { 'a.csv': 'new a', 'b.bin': 'new b' });
  }),
);

Recover('recoverCommit(manifest) is undefined when no commit was interrupted', () =>
  withDir(async (dir) => {
    assert.is(await recoverCommit(commitManifestPath(dir, 'Contoso')), undefined);
  }),
);

Recover.run();
