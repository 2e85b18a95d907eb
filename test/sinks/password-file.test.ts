import { chmod, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redact } from '../../src/redact.js';
import { openPasswordFile } from '../../src/sinks/password-file.js';
import type { GeneratedPassword } from '../../src/streams/to-request.js';
import { withDir } from '../helpers/common.js';

const HEADER = 'userPrincipalName,password,state,file,line';

const entry = (n: number, over: Partial<GeneratedPassword> = {}): GeneratedPassword => ({
  file: 'users.csv',
  line: n + 1,
  userPrincipalName: `user${n}@contoso.com`,
  password: `Pw#${n}-qX7v!kT9zR2m`,
  ...over,
});

async function code(promise: Promise<unknown>): Promise<{ code: string; message: string; exitCode: number }> {
  try {
    await promise;
  } catch (error) {
    return error as { code: string; message: string; exitCode: number };
  }
  throw new Error('no error');
}

const lines = async (path: string) => (await readFile(path, 'utf8')).trimEnd().split('\n');

const Open = suite('openPasswordFile');

Open('openPasswordFile(new path) creates the file with mode 0600 and a header', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const sink = await openPasswordFile(path);
    await sink.close();
    assert.is((await stat(path)).mode & 0o777, 0o600);
    assert.equal(await lines(path), [HEADER]);
  }),
);

Open('openPasswordFile() records pending before the send, then created or discarded', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const sink = await openPasswordFile(path);
    const [a, b] = [entry(1), entry(2)];
    await sink.prepare([a, b]);
    // Synced before prepare resolves: a crash now still leaves both passwords on disk.
    assert.equal((await lines(path)).slice(1), [
      `${a.userPrincipalName},${a.password},pending,users.csv,2`,
      `${b.userPrincipalName},${b.password},pending,users.csv,3`,
    ]);
    await sink.confirm(a);
    await sink.discard(b);
    await sink.close();
    assert.equal((await lines(path)).slice(3), [
      `${a.userPrincipalName},${a.password},created,users.csv,2`,
      `${b.userPrincipalName},${b.password},discarded,users.csv,3`,
    ]);
  }),
);

Open('openPasswordFile() quotes cells that need it (RFC 4180)', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const sink = await openPasswordFile(path);
    await sink.prepare([entry(1, { file: 'my, users.csv' })]);
    await sink.close();
    assert.match((await lines(path))[1]!, /,pending,"my, users\.csv",2$/);
  }),
);

Open('openPasswordFile() registers prepared passwords, so that logs redact them', () =>
  withDir(async (dir) => {
    const sink = await openPasswordFile(join(dir, 'p.csv'));
    const e = entry(7, { password: 'Zq8#unique-Secret-77' });
    await sink.prepare([e]);
    await sink.close();
    assert.is(redact(`created with Zq8#unique-Secret-77 as password`), 'created with *** as password');
  }),
);

Open('openPasswordFile(existing) appends and keeps the header once', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const first = await openPasswordFile(path);
    await first.prepare([entry(1)]);
    await first.close();
    const second = await openPasswordFile(path);
    await second.prepare([entry(2)]);
    await second.close();
    const all = await lines(path);
    assert.is(all.filter((l) => l === HEADER).length, 1);
    assert.is(all.length, 3);
  }),
);

Open('openPasswordFile(file readable by others) refuses it with ERR_PASSWORD_FILE (exit 2)', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    await writeFile(path, `${HEADER}\n`);
    await chmod(path, 0o644);
    const e = await code(openPasswordFile(path));
    assert.is(e.code, 'ERR_PASSWORD_FILE');
    assert.is(e.exitCode, 2);
    assert.match(e.message, /readable by other users \(mode 644\); run chmod 600/);
  }),
);

Open('openPasswordFile(some other file) refuses to append passwords to it', () =>
  withDir(async (dir) => {
    const path = join(dir, 'results.csv');
    await writeFile(path, 'line,Command\n2,insert\n', { mode: 0o600 });
    const e = await code(openPasswordFile(path));
    assert.is(e.code, 'ERR_PASSWORD_FILE');
    assert.match(e.message, /is not a password file/);
    assert.is(await readFile(path, 'utf8'), 'line,Command\n2,insert\n');
  }),
);

Open('openPasswordFile(directory or missing folder) is a clear ERR_PASSWORD_FILE', () =>
  withDir(async (dir) => {
    await mkdir(join(dir, 'sub'));
    const e1 = await code(openPasswordFile(join(dir, 'sub')));
    assert.is(e1.code, 'ERR_PASSWORD_FILE');
    const e2 = await code(openPasswordFile(join(dir, 'missing', 'p.csv')));
    assert.is(e2.code, 'ERR_PASSWORD_FILE');
    assert.match(e2.message, /cannot open password file .*ENOENT/);
  }),
);

Open.run();

// ---

const Settle = suite('PasswordSink.settleEarlier');

Settle('settleEarlier(upn, created) confirms the password an interrupted run left pending', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const crashed = await openPasswordFile(path);
    const old = entry(1);
    await crashed.prepare([old, entry(2)]);
    await crashed.confirm(entry(2));
    await crashed.close();

    const rerun = await openPasswordFile(path);
    assert.is(await rerun.settleEarlier('USER1@contoso.com', 'created'), true);
    assert.is(await rerun.settleEarlier('user1@contoso.com', 'created'), false, 'settled once');
    assert.is(await rerun.settleEarlier('user2@contoso.com', 'created'), false, 'user2 was settled');
    assert.is(await rerun.settleEarlier('nobody@contoso.com', 'discarded'), false);
    await rerun.close();
    assert.is((await lines(path)).at(-1), `${old.userPrincipalName},${old.password},created,users.csv,2`);
  }),
);

Settle('settleEarlier(upn, discarded) settles a pending password whose user was never made', () =>
  withDir(async (dir) => {
    const path = join(dir, 'passwords.csv');
    const crashed = await openPasswordFile(path);
    await crashed.prepare([entry(3)]);
    await crashed.close();
    // A crash mid-line leaves a torn last line: the good entries are still read.
    await writeFile(path, `${await readFile(path, 'utf8')}user9@contoso.com,Pw`, { mode: 0o600 });
    const rerun = await openPasswordFile(path);
    assert.is(await rerun.settleEarlier('user3@contoso.com', 'discarded'), true);
    await rerun.close();
    const all = await lines(path);
    assert.is(all.at(-2), 'user9@contoso.com,Pw', 'the torn line stays a line of its own');
    assert.match(all.at(-1)!, /^user3@contoso\.com,.*,discarded,users\.csv,4$/);
  }),
);

Settle.run();
