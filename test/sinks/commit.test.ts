import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { commitManifestPath, commitStaged, recoverCommit } from '../../src/sinks/commit.js';
import { withDir } from '../helpers/common.js';

const Commit = suite('commitStaged');

Commit('commitStaged(manifest, files) renames every staged file into place and removes the manifest', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'a.csv'), 'old a');
    await writeFile(join(dir, '.a.tmp'), 'new a');
    await writeFile(join(dir, '.b.tmp'), 'new b');
    const manifest = commitManifestPath(dir, 'Contoso');
    await commitStaged(manifest, [
      { temp: join(dir, '.a.tmp'), final: join(dir, 'a.csv') },
      { temp: join(dir, '.b.tmp'), final: join(dir, 'b.bin') },
    ]);
    assert.is(await readFile(join(dir, 'a.csv'), 'utf8'), 'new a');
    assert.is(await readFile(join(dir, 'b.bin'), 'utf8'), 'new b');
    assert.equal((await readdir(dir)).sort(), ['a.csv', 'b.bin']);
  }),
);

Commit.run();

// ---

const Recover = suite('recoverCommit');

Recover('recoverCommit(manifest) finishes the renames a killed run left half done', () =>
  withDir(async (dir) => {
    // As left by a run killed after its first rename: a.csv new, b.bin still staged.
    await writeFile(join(dir, 'a.csv'), 'new a');
    await writeFile(join(dir, 'b.bin'), 'old b');
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
    assert.is(await recoverCommit(manifest), true);
    assert.is(await readFile(join(dir, 'a.csv'), 'utf8'), 'new a');
    assert.is(await readFile(join(dir, 'b.bin'), 'utf8'), 'new b');
    assert.equal((await readdir(dir)).sort(), ['a.csv', 'b.bin']);
  }),
);

Recover('recoverCommit(manifest) is false when no commit was interrupted', () =>
  withDir(async (dir) => {
    assert.is(await recoverCommit(commitManifestPath(dir, 'Contoso')), false);
  }),
);

Recover.run();
