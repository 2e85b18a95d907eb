import { randomBytes } from 'node:crypto';
import { readFile, rename, stat, unlink } from 'node:fs/promises';
import { link } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '../errors.js';
import { writeTempFile } from './atomic-file.js';

/**
 * One writer per connection: a lock file created with link(2), which fails with EEXIST when the file is
 * there, so that exactly one process holds it and a reader never sees it half written. It names its
 * holder (pid, host, start of the process, command). A lock whose holder is gone (a killed run) is
 * recovered: same host, and the pid is not running, or is another process than the one that took it.
 */

/** What a lock file says about its holder. */
export interface LockHolder {
  pid: number;
  host: string;
  /** ISO 8601: when the lock was taken. */
  since: string;
  /** What holds it, e.g. `entra export (connection Contoso)`. */
  command: string;
  /** Linux: the process's start time in clock ticks since boot (/proc/<pid>/stat), against pid reuse. */
  procStart?: string;
  /** Random, so that a holder releases only its own lock. */
  token: string;
}

/** A lock held by this process. */
export interface RunLock {
  path: string;
  /** Removes the lock file if it is still this holder's. Safe to call more than once. */
  release(): Promise<void>;
}

/** `<dir>/<connection>.lock`: the lock of a connection's cookie folder. */
export function connectionLockPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `${connection}.lock`);
}

/** The start time of process `pid` (field 22 of /proc/<pid>/stat), where /proc exists. */
async function processStart(pid: number): Promise<string | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
    return text.slice(text.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** True when `holder` is certainly gone: on this host, and its pid runs nothing or another process. */
async function isGone(holder: LockHolder): Promise<boolean> {
  if (holder.host !== hostname()) return false;
  try {
    process.kill(holder.pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'ESRCH';
  }
  if (!holder.procStart) return false;
  const now = await processStart(holder.pid);
  return now !== undefined && now !== holder.procStart;
}

async function readHolder(path: string): Promise<LockHolder | undefined> {
  try {
    const h = JSON.parse(await readFile(path, 'utf8')) as Partial<LockHolder>;
    if (typeof h.pid === 'number' && typeof h.host === 'string') return h as LockHolder;
  } catch {
    // missing (released meanwhile) or not ours to read: handled by the caller
  }
  return undefined;
}

function describe(h: LockHolder): string {
  return `${h.command}, pid ${h.pid} on ${h.host}, since ${h.since}`;
}

/**
 * Takes the lock at `path` for `command`, or fails at once with ERR_LOCKED naming the holder. A stale
 * lock (its holder is gone) is replaced, with `onStale` told whose it was.
 * @example const lock = await acquireLock(connectionLockPath(dir, 'Contoso'), { command: 'entra export' });
 * try { ... } finally { await lock.release(); }
 */
export async function acquireLock(
  path: string,
  options: {
    command: string;
    /** What one run at a time is per, in the message: `connection` (default) or `journal`. */
    per?: string;
    onStale?: (holder: string) => void;
  },
): Promise<RunLock> {
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    since: new Date().toISOString(),
    command: options.command,
    token: randomBytes(8).toString('hex'),
  };
  const start = await processStart(process.pid);
  if (start) me.procStart = start;
  const temp = await writeTempFile(path, `${JSON.stringify(me)}\n`).catch((e: unknown) => {
    throw new ToolError('ERR_ATOMIC_FILE', `cannot create the lock ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        await link(temp, path);
        break;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      }
      const holder = await readHolder(path);
      if (holder && !(await isGone(holder)))
        throw new ToolError(
          'ERR_LOCKED',
          `${path} is held by ${describe(holder)}: one run at a time per ${options.per ?? 'connection'}; if that run is gone, remove the file`,
        );
      if (attempt >= 3)
        throw new ToolError('ERR_LOCKED', `${path}: cannot take the lock (another run keeps taking it)`);
      if (!holder) {
        // Unreadable: a lock being released right now, or a foreign file; look again, but not forever.
        const s = await stat(path).catch(() => undefined);
        if (s && s.size > 0 && attempt >= 1)
          throw new ToolError('ERR_LOCKED', `${path} exists and is not a lock this tool can read: remove it`);
        continue;
      }
      // Stale: move it aside under a name of our own, and check that it is the lock we judged (not a
      // fresh one another process took meanwhile) before dropping it.
      const aside = `${path}.${process.pid}.${randomBytes(4).toString('hex')}.stale`;
      try {
        await rename(path, aside);
      } catch {
        continue;
      }
      const moved = await readHolder(aside);
      if (moved?.token !== holder.token) {
        await link(aside, path).catch(() => undefined);
        await unlink(aside).catch(() => undefined);
        continue;
      }
      await unlink(aside).catch(() => undefined);
      options.onStale?.(describe(holder));
    }
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  let released = false;
  return {
    path,
    async release() {
      if (released) return;
      released = true;
      const holder = await readHolder(path);
      if (holder?.token === me.token) await unlink(path).catch(() => undefined);
    },
  };
}
