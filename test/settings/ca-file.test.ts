import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator } from '../../src/emulator/server.js';
import { UsageError } from '../../src/errors.js';
import { readCaFile } from '../../src/settings/ca-file.js';
import { rejection, withDir } from '../helpers/common.js';

const ReadCaFile = suite('readCaFile');

ReadCaFile('readCaFile(file) returns the PEM text of a certificate', async () => {
  const emu = await startEmulator({ generate: { users: 1, groups: 0, seed: 1 } });
  try {
    await withDir(async (dir) => {
      await writeFile(join(dir, 'ca.pem'), emu.caPem);
      assert.is(await readCaFile(join(dir, 'ca.pem')), emu.caPem);
    });
  } finally {
    await emu.close();
  }
});

ReadCaFile('readCaFile(file) fails with ERR_USAGE for a missing file or one that is not PEM', () =>
  withDir(async (dir) => {
    const missing = await rejection(readCaFile(join(dir, 'none.pem')));
    assert.instance(missing, UsageError);
    assert.is(missing.code, 'ERR_USAGE');
    assert.match(missing.message, /--ca: cannot read .*none\.pem: ENOENT/);
    await writeFile(join(dir, 'bad.pem'), 'not a certificate');
    const bad = await rejection(readCaFile(join(dir, 'bad.pem')));
    assert.is(bad.code, 'ERR_USAGE');
    assert.match(bad.message, /bad\.pem is not a PEM certificate/);
  }),
);

ReadCaFile.run();
