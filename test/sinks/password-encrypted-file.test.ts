import { createPrivateKey } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { redact } from '../../src/redact.js';
import { decryptPasswordCsv, openEncryptedPasswordFile } from '../../src/sinks/password-encrypted-file.js';
import type { GeneratedPassword } from '../../src/streams/to-request.js';
import { withDir } from '../helpers/common.js';

const generated = generateSelfSignedCertificate({ commonName: 'password file' });
const certificate = { certificatePem: generated.certPem };
const key = { privateKey: createPrivateKey(generated.keyPem), thumbprintSha256: generated.thumbprintSha256 };
const HEADER = 'userPrincipalName,password,state,file,line';

const entry = (n: number): GeneratedPassword => ({
  file: 'new-users.csv',
  line: n + 1,
  userPrincipalName: `user${n}@contoso.com`,
  password: `Initial-Passw0rd-${n}!`,
});

async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_PASSWORD_FILE');
    return (error as Error).message;
  }
  throw new Error('no ERR_PASSWORD_FILE');
}

const Open = suite('openEncryptedPasswordFile');

Open(
  'openEncryptedPasswordFile(path, cert) writes mode 0600, encrypted passwords only, that decrypt back',
  () =>
    withDir(async (dir) => {
      const path = join(dir, 'passwords.csv');
      const sink = await openEncryptedPasswordFile(path, certificate);
      await sink.prepare([entry(1), entry(2)]);
      await sink.confirm(entry(1));
      await sink.discard(entry(2));
      await sink.close();
      assert.is((await stat(path)).mode & 0o777, 0o600);
      const text = await readFile(path, 'utf8');
      for (const n of [1, 2]) assert.not.ok(text.includes(entry(n).password), 'a password in clear');
      const rows = text.trim().split('\n');
      assert.is(rows[0], HEADER);
      assert.is(rows.length, 5);
      for (const row of rows.slice(1)) assert.match(row.split(',')[1]!, /^enc:v1:/);
      assert.is(
        decryptPasswordCsv(text, key, path),
        [
          HEADER,
          `user1@contoso.com,${entry(1).password},pending,new-users.csv,2`,
          `user2@contoso.com,${entry(2).password},pending,new-users.csv,3`,
          `user1@contoso.com,${entry(1).password},created,new-users.csv,2`,
          `user2@contoso.com,${entry(2).password},discarded,new-users.csv,3`,
          '',
        ].join('\n'),
      );
      assert.is(redact(entry(1).password), '***');
    }),
);

Open(
  'openEncryptedPasswordFile(path) appends to its own file, and settles what an earlier run left pending',
  () =>
    withDir(async (dir) => {
      const path = join(dir, 'passwords.csv');
      const first = await openEncryptedPasswordFile(path, certificate);
      await first.prepare([entry(1), entry(2)]);
      await first.confirm(entry(2));
      await first.close();
      const second = await openEncryptedPasswordFile(path, certificate);
      assert.is(await second.settleEarlier('USER1@contoso.com', 'created'), true);
      assert.is(await second.settleEarlier('user1@contoso.com', 'created'), false);
      assert.is(await second.settleEarlier('user2@contoso.com', 'created'), false);
      await second.close();
      const lines = decryptPasswordCsv(await readFile(path, 'utf8'), key, path)
        .trim()
        .split('\n');
      assert.is(lines.at(-1), `user1@contoso.com,${entry(1).password},created,new-users.csv,2`);
      assert.is(lines.filter((l) => l === HEADER).length, 1);
    }),
);

Open(
  'openEncryptedPasswordFile(path) refuses a file other users can read, and a file that is not a password file',
  () =>
    withDir(async (dir) => {
      const open = join(dir, 'open.csv');
      await writeFile(open, `${HEADER}\n`);
      await chmod(open, 0o644);
      assert.match(
        await failure(openEncryptedPasswordFile(open, certificate)),
        /readable by other users.*chmod 600/,
      );
      const other = join(dir, 'other.csv');
      await writeFile(other, 'a,b\n', { mode: 0o600 });
      assert.match(await failure(openEncryptedPasswordFile(other, certificate)), /not a password file/);
    }),
);

Open.run();

// ---

const Decrypt = suite('decryptPasswordCsv');

Decrypt('decryptPasswordCsv(text) refuses a password moved to another row, naming the line', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const sink = await openEncryptedPasswordFile(path, certificate);
    await sink.prepare([entry(1), entry(2)]);
    await sink.close();
    const [header, a, b] = (await readFile(path, 'utf8')).trim().split('\n') as [string, string, string];
    const swapped = [header, `${a.split(',')[0]},${b.split(',')[1]},${a.split(',').slice(2).join(',')}`].join(
      '\n',
    );
    try {
      decryptPasswordCsv(swapped, key, 'passwords.csv');
      assert.unreachable('decrypted a moved password');
    } catch (error) {
      assert.is((error as { code?: string }).code, 'ERR_DECRYPT');
      assert.match((error as Error).message, /^passwords\.csv:2 \(user1@contoso\.com\): cannot decrypt/);
      assert.not.ok((error as Error).message.includes(entry(2).password));
    }
  }),
);

Decrypt('decryptPasswordCsv(text) refuses a CSV without the password columns', () => {
  assert.throws(() => decryptPasswordCsv('a,b\n1,2\n', key, 'x.csv'), /not a password file/);
});

Decrypt.run();
