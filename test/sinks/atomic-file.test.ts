import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createAtomicFile, tempPathFor, writeFileAtomic } from '../../src/sinks/atomic-file.js';
import { withDir } from '../helpers/common.js';

const write = (stream: NodeJS.WritableStream, text: string) =>
  new Promise<void>((resolve, reject) => stream.write(text, (e) => (e ? reject(e) : resolve())));

// ---

const Create = suite('createAtomicFile');

Create('tempPathFor(path) is a hidden name in the same directory', () => {
  const temp = tempPathFor('/data/out/Contoso_directoryobjects.csv');
  assert.is(dirname(temp), '/data/out');
  assert.match(
    basename(temp),
    new RegExp(`^\\.Contoso_directoryobjects\\.csv\\.${process.pid}\\.[0-9a-f]{8}\\.tmp$`),
  );
});

Create('createAtomicFile(path).commit() puts the data in place and leaves no temp file', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'out.csv');
    await writeFile(path, 'old\n');
    const file = createAtomicFile(path);
    await write(file.stream, 'new\n');
    assert.is(await readFile(path, 'utf8'), 'old\n');
    await file.commit();
    assert.is(await readFile(path, 'utf8'), 'new\n');
    assert.equal(await readdir(dir), ['out.csv']);
  });
});

Create('createAtomicFile(path).abort() removes the temp file and keeps the old file', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'out.csv');
    await writeFile(path, 'old\n');
    const file = createAtomicFile(path);
    await write(file.stream, 'half a');
    await file.abort();
    assert.is(await readFile(path, 'utf8'), 'old\n');
    assert.equal(await readdir(dir), ['out.csv']);
    await file.abort(); // idempotent
  });
});

Create('createAtomicFile(path) flushed but never committed leaves the old file', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'out.csv');
    await writeFile(path, 'old\n');
    const file = createAtomicFile(path);
    await write(file.stream, 'new\n');
    await file.flush();
    assert.is(await readFile(path, 'utf8'), 'old\n');
    assert.is(await readFile(file.tempPath, 'utf8'), 'new\n');
    await file.abort();
  });
});

Create('createAtomicFile(path) in a process killed mid-write leaves the old file', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'out.csv');
    await writeFile(path, 'old\n');
    const module = new URL('../../src/sinks/atomic-file.ts', import.meta.url).href;
    const script = `
      const { createAtomicFile } = await import(${JSON.stringify(module)});
      const file = createAtomicFile(${JSON.stringify(path)});
      const line = 'x'.repeat(1000) + '\\n';
      const more = () => { while (file.stream.write(line)); };
      file.stream.on('drain', more);
      more();
      file.stream.once('open', () => process.stdout.write('writing\\n'));`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    assert.is(await readFile(path, 'utf8'), 'old\n');
    const left = (await readdir(dir)).filter((f) => f !== 'out.csv');
    assert.is(left.length, 1);
    assert.match(left[0]!, /^\.out\.csv\.\d+\.[0-9a-f]{8}\.tmp$/);
  });
});

Create('createAtomicFile(path in a missing directory).commit() fails with ERR_ATOMIC_FILE', async () => {
  await withDir(async (dir) => {
    const file = createAtomicFile(join(dir, 'missing', 'out.csv'));
    try {
      await file.commit();
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_ATOMIC_FILE');
    }
  });
});

Create.run();

// ---

const WriteAtomic = suite('writeFileAtomic');

WriteAtomic('writeFileAtomic(path, data) replaces the file and leaves no temp file', async () => {
  await withDir(async (dir) => {
    const path = join(dir, 'cookie.bin');
    await writeFile(path, 'old');
    await writeFileAtomic(path, 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc');
    assert.is(await readFile(path, 'utf8'), 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=abc');
    assert.equal(await readdir(dir), ['cookie.bin']);
  });
});

WriteAtomic('writeFileAtomic(path in a missing directory) fails with ERR_ATOMIC_FILE', async () => {
  await withDir(async (dir) => {
    try {
      await writeFileAtomic(join(dir, 'missing', 'x'), 'data');
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_ATOMIC_FILE');
    }
  });
});

WriteAtomic.run();
