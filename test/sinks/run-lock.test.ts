import { spawnSync } from 'node:child_process';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { acquireLock, connectionLockPath } from '../../src/sinks/run-lock.js';
import { failure, withDir } from '../helpers/common.js';

const Acquire = suite('acquireLock');

Acquire('acquireLock(path) writes the holder, and release() removes the file', () =>
  withDir(async (dir) => {
    const path = connectionLockPath(dir, 'Contoso');
    const lock = await acquireLock(path, { command: 'entra export (connection Contoso)' });
    const holder = JSON.parse(await readFile(path, 'utf8')) as Record<string, unknown>;
    assert.is(holder.pid, process.pid);
    assert.is(holder.host, hostname());
    assert.is(holder.command, 'entra export (connection Contoso)');
    await lock.release();
    await lock.release();
    assert.equal(await readdir(dir), []);
  }),
);

Acquire('acquireLock(path) fails at once with ERR_LOCKED naming a live holder, and leaves its lock', () =>
  withDir(async (dir) => {
    const path = connectionLockPath(dir, 'Contoso');
    const first = await acquireLock(path, { command: 'entra export (connection Contoso)' });
    const message = await failure(acquireLock(path, { command: 'entra export' }), 'ERR_LOCKED');
    assert.match(
      message,
      new RegExp(
        `^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is held by entra export \\(connection Contoso\\), pid ${process.pid} on ${hostname()}, since \\d{4}-.*: one run at a time per connection`,
      ),
    );
    assert.equal(await readdir(dir), ['Contoso.lock']);
    await first.release();
    const again = await acquireLock(path, { command: 'entra export' });
    await again.release();
  }),
);

Acquire('acquireLock(path) takes over the lock of a process that is gone', () =>
  withDir(async (dir) => {
    const path = connectionLockPath(dir, 'Contoso');
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    const stale = {
      pid: dead,
      host: hostname(),
      since: '2026-01-01T00:00:00.000Z',
      command: 'entra export',
      token: 'x',
    };
    await writeFile(path, JSON.stringify(stale));
    const told: string[] = [];
    const lock = await acquireLock(path, { command: 'entra export', onStale: (h) => told.push(h) });
    assert.equal(told, [`entra export, pid ${dead} on ${hostname()}, since 2026-01-01T00:00:00.000Z`]);
    assert.is((JSON.parse(await readFile(path, 'utf8')) as { pid: number }).pid, process.pid);
    await lock.release();
    assert.equal(await readdir(dir), []);
  }),
);

Acquire('acquireLock(path) takes over a lock whose pid now runs another process (pid reuse)', () =>
  withDir(async (dir) => {
    const path = connectionLockPath(dir, 'Contoso');
    const reused = {
      pid: process.pid,
      host: hostname(),
      since: '2026-01-01T00:00:00.000Z',
      command: 'entra export',
      procStart: '1',
      token: 'y',
    };
    await writeFile(path, JSON.stringify(reused));
    const lock = await acquireLock(path, { command: 'entra export' });
    await lock.release();
  }),
);

Acquire("acquireLock(path) never takes another host's lock: it cannot tell whether that run is gone", () =>
  withDir(async (dir) => {
    const path = connectionLockPath(dir, 'Contoso');
    await writeFile(
      path,
      JSON.stringify({ pid: 1, host: 'elsewhere', since: 'x', command: 'entra export', token: 'z' }),
    );
    assert.match(
      await failure(acquireLock(path, { command: 'entra export' }), 'ERR_LOCKED'),
      /pid 1 on elsewhere/,
    );
  }),
);

Acquire.run();
