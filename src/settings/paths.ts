import { randomBytes } from 'node:crypto';
import { constants, type Stats } from 'node:fs';
import { access, mkdir, open, realpath, rmdir, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * Checks of the paths a command will write (folders like `--output` and `--cookies`, files like
 * `--journal` and `--results`), run before anything else so that a path that cannot work is a usage
 * error (exit 2) naming the option, never a failure halfway through a run. What exists is checked
 * with access(2); what does not is created and removed at once, as only trying tells (root ignores
 * mode bits, /proc refuses what its mode allows): a check leaves nothing behind.
 */

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOENT: 'no such file or folder',
  ENOTDIR: 'a part of the path is not a folder',
  ENAMETOOLONG: 'name too long',
  ENOSPC: 'no space left',
  EEXIST: 'already exists',
  ELOOP: 'too many symbolic links',
};

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code ?? String(error);
  return REASONS[code] ? `${REASONS[code]}, ${code}` : code;
}

function kindOf(s: Stats): string {
  if (s.isFile()) return 'a file';
  if (s.isDirectory()) return 'a folder';
  if (s.isCharacterDevice()) return 'a character device';
  if (s.isBlockDevice()) return 'a block device';
  if (s.isFIFO()) return 'a pipe';
  if (s.isSocket()) return 'a socket';
  return 'not a regular file';
}

/** `stat`, or undefined where nothing is (a missing entry, or a path through a file). */
async function statOrNone(path: string, fail: (why: string) => never): Promise<Stats | undefined> {
  try {
    return await stat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    return fail(`cannot look at it (${reason(error)})`);
  }
}

/** What is at `path` (the value of `option`), and how to fail naming both. */
async function lookAt(option: string, path: string) {
  const fail = (why: string): never => {
    throw new UsageError('ERR_USAGE', `${option} ${path}: ${why}`);
  };
  if (!path) throw new UsageError('ERR_USAGE', `${option} needs a path`);
  const full = resolve(path);
  return { fail, full, found: await statOrNone(full, fail) };
}

/**
 * Checks that `path` (the value of `option`) is a folder the run can write in, or can create:
 * the nearest existing folder above it must let a sub-folder be made.
 * @example await checkOutputFolder('--cookies', args.cookies)
 */
export function checkOutputFolder(option: string, path: string): Promise<void> {
  // One probe at a time in a process: the runs of several connections check the same folders at once.
  const check = probes.then(() => checkFolder(option, path));
  probes = check.catch(() => undefined);
  return check;
}

let probes: Promise<unknown> = Promise.resolve();

async function checkFolder(option: string, path: string): Promise<void> {
  const { fail, full, found } = await lookAt(option, path);
  if (found) {
    if (!found.isDirectory()) fail(`not a folder (it is ${kindOf(found)})`);
    await access(full, constants.W_OK | constants.X_OK).catch((error: unknown) =>
      fail(`cannot write in this folder (${reason(error)})`),
    );
    return;
  }
  let child = full;
  let parent = dirname(full);
  let above: Stats | undefined;
  while (!(above = await statOrNone(parent, fail)) && parent !== dirname(parent)) {
    child = parent;
    parent = dirname(parent);
  }
  if (above && !above.isDirectory()) fail(`${parent} is ${kindOf(above)}, not a folder`);
  // mkdir, not mkdir -p: Node's recursive mkdir spins forever where a parent exists but refuses
  // children with ENOENT (/proc), and it is what creates these folders later.
  try {
    await mkdir(child);
  } catch (error) {
    // Created meanwhile by another run (several connections at once): looked at again, as found.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return checkFolder(option, path);
    fail(`cannot create ${child === full ? 'this folder' : `folder ${child}`} (${reason(error)})`);
  }
  // Another run may be filling it already: it stays then (the runs create their folders as they write).
  await rmdir(child).catch(() => undefined);
}

/**
 * Checks that `path` (the value of `option`) is a regular file the run can write, or a file it can
 * create in an existing folder (or, with `createFolder`, in a folder it can create). With `streams`,
 * a pipe or a character device (`/dev/stdout`) is accepted too, for outputs written once from start
 * to end.
 * @example await checkOutputFile('--journal', args.journal)
 */
export async function checkOutputFile(
  option: string,
  path: string,
  options: { streams?: boolean; createFolder?: boolean } = {},
): Promise<void> {
  const { fail, full, found } = await lookAt(option, path);
  if (found) {
    if (found.isDirectory()) fail('is a folder: name a file');
    const stream = found.isFIFO() || found.isCharacterDevice();
    if (!found.isFile() && !(options.streams && stream)) fail(`not a regular file (it is ${kindOf(found)})`);
    await access(full, constants.W_OK).catch((error: unknown) => fail(`cannot write it (${reason(error)})`));
    return;
  }
  const folder = dirname(full);
  const above = await statOrNone(folder, fail);
  if (!above && options.createFolder) return checkOutputFolder(option, folder);
  if (!above) fail(`folder ${folder} does not exist`);
  if (!above!.isDirectory()) fail(`${folder} is ${kindOf(above!)}, not a folder`);
  // The probe is a file of its own beside it: probing at the path itself could remove the file another
  // run (of the same journal, say) has just created there, and would fail where it has.
  const probe = join(folder, `.${basename(full)}.${process.pid}.${randomBytes(4).toString('hex')}.probe`);
  try {
    await (await open(probe, 'wx')).close();
  } catch (error) {
    fail(`cannot create it (${reason(error)})`);
  }
  await unlink(probe);
}

/** The paths `entra export` writes, checked before anything runs. */
export async function checkExportPaths(paths: { output?: string; cookies?: string }): Promise<void> {
  if (paths.output !== undefined && paths.output !== '-') await checkOutputFolder('--output', paths.output);
  if (paths.cookies !== undefined) await checkOutputFolder('--cookies', paths.cookies);
}

/** The paths `entra fulfill` writes, checked before anything runs. */
export async function checkFulfillPaths(paths: {
  journal?: string;
  results?: string;
  passwordFile?: string;
}): Promise<void> {
  if (paths.journal !== undefined) await checkOutputFile('--journal', paths.journal);
  if (paths.results !== undefined && paths.results !== '-')
    await checkOutputFile('--results', paths.results, { streams: true });
  if (paths.passwordFile !== undefined) await checkOutputFile('--password-file', paths.passwordFile);
}

/** A path a command reads (`in`) or writes (`out`), with the option that names it. */
export interface NamedPath {
  option: string;
  path: string;
  role: 'in' | 'out';
}

/** The same file whatever the spelling: symbolic links resolved, and a file's device and inode. */
async function identity(path: string): Promise<string> {
  const full = resolve(path);
  try {
    const s = await stat(full);
    if (s.isFile()) return `${s.dev}:${s.ino}`;
    return await realpath(full);
  } catch {
    // Not there yet: the real folder it will be created in, and its name.
    try {
      return join(await realpath(dirname(full)), basename(full));
    } catch {
      return full;
    }
  }
}

/**
 * Refuses, before anything runs, a file that a command would write while it also reads it, or write
 * twice: `fulfill in.csv --results in.csv` would destroy its input, `--password-file p.csv --results
 * p.csv` a password. Streams (`-`, pipes, /dev/stdout) are not files and are left out.
 * @example await checkDistinctPaths([{ option: 'input', path: 'in.csv', role: 'in' }, { option: '--results', path: 'in.csv', role: 'out' }])
 */
export async function checkDistinctPaths(paths: NamedPath[]): Promise<void> {
  const seen = new Map<string, NamedPath>();
  for (const p of paths) {
    if (!p.path || p.path === '-') continue;
    const s = await stat(resolve(p.path)).catch(() => undefined);
    if (s && !s.isFile()) continue;
    const id = await identity(p.path);
    const other = seen.get(id);
    if (other && (other.role === 'out' || p.role === 'out')) {
      const [w, r] = other.role === 'out' ? [other, p] : [p, other];
      throw new UsageError(
        'ERR_USAGE',
        `${w.option} ${w.path} is also ${r.role === 'in' ? 'read as ' : ''}${r.option}${r.path !== w.path ? ` (${r.path})` : ''}: the run would overwrite it; name another file`,
      );
    }
    if (!other || p.role === 'out') seen.set(id, p);
  }
}
