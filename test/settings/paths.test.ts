import { chmod, mkdir, readdir, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkOutputFile, checkOutputFolder } from '../../src/settings/paths.js';
import { failure, withDir } from '../helpers/common.js';

/** A folder nothing can be created in, whoever runs the tests: root ignores mode bits, not sysfs. */
async function unwritableFolder(dir: string): Promise<string> {
  if (process.getuid?.() === 0) return '/sys';
  const folder = join(dir, 'read-only');
  await mkdir(folder, { mode: 0o555 });
  await chmod(folder, 0o555);
  return folder;
}

const Folder = suite('checkOutputFolder');

Folder(
  'checkOutputFolder(option, path) accepts a folder, or one it can create, and leaves nothing',
  async () => {
    await withDir(async (dir) => {
      await checkOutputFolder('--output', dir);
      await checkOutputFolder('--output', join(dir, 'new', 'deeper'));
      assert.equal(await readdir(dir), []);
    });
  },
);

Folder('checkOutputFolder(option, file) is a usage error naming the option: --cookies afile', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'afile');
    await writeFile(file, '');
    const message = await failure(checkOutputFolder('--cookies', file), 'ERR_USAGE');
    assert.is(message, `--cookies ${file}: not a folder (it is a file)`);
    const below = await failure(checkOutputFolder('--output', join(file, 'sub')), 'ERR_USAGE');
    assert.is(below, `--output ${file}/sub: ${file} is a file, not a folder`);
  });
});

Folder('checkOutputFolder(option, /proc/xyz) fails at once, where mkdir -p would spin forever', async () => {
  const message = await failure(checkOutputFolder('--output', '/proc/xyz'), 'ERR_USAGE');
  assert.is(message, '--output /proc/xyz: cannot create this folder (no such file or folder, ENOENT)');
});

Folder.run();

// ---

const File = suite('checkOutputFile');

File(
  'checkOutputFile(option, path) accepts a writable file, or one it can create, and leaves nothing',
  async () => {
    await withDir(async (dir) => {
      await writeFile(join(dir, 'run.journal'), 'kept');
      await checkOutputFile('--journal', join(dir, 'run.journal'));
      await checkOutputFile('--journal', join(dir, 'new.journal'));
      assert.equal(await readdir(dir), ['run.journal']);
    });
  },
);

File(
  'checkOutputFile(option, path) never creates or removes the path itself: a run creating it meanwhile keeps its file',
  async () => {
    await withDir(async (dir) => {
      const journal = join(dir, 'run.journal');
      // Another run (of the same journal) creates the file while this one checks the path, many times.
      for (let i = 0; i < 200; i++) {
        await Promise.all([checkOutputFile('--journal', journal), writeFile(journal, `run ${i}`)]);
        assert.is(await readFile(journal, 'utf8').catch(String), `run ${i}`, `attempt ${i}`);
        assert.equal(await readdir(dir), ['run.journal'], 'no probe left behind');
        await unlink(journal);
      }
    });
  },
);

File(
  'checkOutputFile(option, /dev/null or a folder) is a usage error; --results may be a device',
  async () => {
    await withDir(async (dir) => {
      assert.is(
        await failure(checkOutputFile('--journal', '/dev/null'), 'ERR_USAGE'),
        '--journal /dev/null: not a regular file (it is a character device)',
      );
      assert.is(
        await failure(checkOutputFile('--journal', dir), 'ERR_USAGE'),
        `--journal ${dir}: is a folder: name a file`,
      );
      await checkOutputFile('--results', '/dev/null', { streams: true });
    });
  },
);

File('checkOutputFile(option, path) names an unwritable or missing folder', async () => {
  await withDir(async (dir) => {
    const folder = await unwritableFolder(dir);
    const message = await failure(checkOutputFile('--journal', join(folder, 'j')), 'ERR_USAGE');
    assert.match(
      message,
      new RegExp(
        `^--journal ${folder}/j: cannot create it \\((permission denied, EACCES|operation not permitted, EPERM)\\)$`,
      ),
    );
    assert.is(
      await failure(checkOutputFile('--journal', join(dir, 'no', 'j')), 'ERR_USAGE'),
      `--journal ${dir}/no/j: folder ${dir}/no does not exist`,
    );
  });
});

File.run();
