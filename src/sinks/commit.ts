import { randomBytes } from 'node:crypto';
import { link, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ToolError } from '../errors.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/**
 * The commit step of a run: every staged file (CSVs, cookies) moves into place as one step, with a
 * rollback record, so that a run killed anywhere in it is either wholly committed or wholly undone.
 *
 * 1. the manifest (written atomically) names the run, each staged file, and the backup name of each
 *    file it replaces;
 * 2. each file about to be replaced gets a backup (a hard link: no copy);
 * 3. the staged files are renamed into place;
 * 4. the commit point: the snapshot's transaction commits (when there is one), then the manifest is
 *    removed; from there on the run is committed;
 * 5. the backups are removed.
 *
 * A run killed before its commit point is rolled back by the next run ({@link recoverCommit}): the
 * previous files are put back, files that did not exist are removed, staged files are deleted. So the
 * next successful run replays the same delta round, and its files hold every change since the last
 * committed run; the killed run's files never replace them half way.
 */

/** Where a connection's commit manifest lives: beside its cookies. */
export function commitManifestPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `.${connection}_commit.json`);
}

/** A file written and synced under a temporary name, waiting to be renamed into place. */
export interface StagedFile {
  temp: string;
  final: string;
}

interface ManifestEntry extends StagedFile {
  /** The previous file's name while the commit runs; null when there was no previous file. */
  backup: string | null;
}

interface Manifest {
  version: 2;
  run: string;
  files: ManifestEntry[];
}

export interface CommitOptions {
  /** The run's id (recorded in the manifest, and by `commitPoint`); a random one by default. */
  run?: string;
  /**
   * The participant that commits with the files, e.g. the snapshot's transaction: called after every
   * file is in place, before the manifest goes. It must record `run` so that {@link recoverCommit}'s
   * `isCommitted` can tell, after a kill, that the commit point was passed.
   */
  commitPoint?: () => void | Promise<void>;
  /** Called before and after each write and rename (fault injection for the kill tests). */
  onStep?: (label: string) => void;
}

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

/** The backup name of `final` while a commit runs: hidden, beside it, with the pid (see sweepTemps). */
function backupPathFor(final: string): string {
  return join(dirname(final), `.${basename(final)}.${process.pid}.${randomBytes(4).toString('hex')}.bak`);
}

/** A hard link where the file system has them; else a rename (the final name is missing for a moment). */
async function backUp(final: string, backup: string): Promise<void> {
  try {
    await link(final, backup);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EXDEV' && code !== 'EOPNOTSUPP') throw e;
    await rename(final, backup);
  }
}

/**
 * Renames every staged file into place as one step (see the module comment): committed once it
 * resolves, rolled back by the next run's {@link recoverCommit} if the process dies before.
 */
export async function commitStaged(
  manifestPath: string,
  files: StagedFile[],
  options: CommitOptions = {},
): Promise<void> {
  const step = options.onStep ?? (() => {});
  const run = options.run ?? randomBytes(8).toString('hex');
  const entries: ManifestEntry[] = [];
  for (const f of files)
    entries.push({ ...f, backup: (await exists(f.final)) ? backupPathFor(f.final) : null });
  const manifest: Manifest = { version: 2, run, files: entries };
  step('write manifest');
  await writeFileAtomic(manifestPath, JSON.stringify(manifest));
  step('manifest written');
  try {
    for (const e of entries) {
      if (!e.backup) continue;
      step(`back up ${basename(e.final)}`);
      await backUp(e.final, e.backup);
      step(`backed up ${basename(e.final)}`);
    }
    for (const e of entries) {
      step(`rename ${basename(e.final)}`);
      await rename(e.temp, e.final);
      step(`renamed ${basename(e.final)}`);
    }
    for (const dir of new Set(entries.map((e) => dirname(e.final)))) await syncDirectory(dir);
  } catch (error) {
    throw new ToolError('ERR_ATOMIC_FILE', 'cannot move the new files into place; the next run undoes it', {
      cause: error,
    });
  }
  if (options.commitPoint) {
    step('commit snapshot');
    await options.commitPoint();
    step('snapshot committed');
  }
  step('remove manifest');
  await unlink(manifestPath);
  await syncDirectory(dirname(manifestPath));
  step('manifest removed');
  for (const e of entries) if (e.backup) await unlink(e.backup).catch(() => undefined);
}

/**
 * Settles a commit that a killed run left unfinished, before anything reads the cookies: rolled back
 * (previous files restored, new ones removed) unless `isCommitted(run)` says its commit point was
 * passed, in which case only the backups are removed. Resolves with what it did, or undefined when no
 * commit was pending.
 */
export async function recoverCommit(
  manifestPath: string,
  options: { isCommitted?: (run: string) => boolean | Promise<boolean> } = {},
): Promise<'rolled back' | 'committed' | undefined> {
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let manifest: Partial<Manifest> & { version?: number; files?: ManifestEntry[] };
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    // The manifest is written atomically: an unreadable one is a foreign file, and no commit began.
    await unlink(manifestPath);
    return undefined;
  }
  const entries = manifest.files ?? [];
  const committed =
    manifest.version !== 2 ||
    (manifest.run !== undefined && (await options.isCommitted?.(manifest.run)) === true);
  for (const e of entries) {
    if (committed) {
      // Version 1 manifests (no backups) could only be finished.
      if (await exists(e.temp)) await rename(e.temp, e.final);
      if (e.backup) await unlink(e.backup).catch(() => undefined);
      continue;
    }
    if (e.backup) {
      const [b, f] = await Promise.all([
        stat(e.backup).catch(() => undefined),
        stat(e.final).catch(() => undefined),
      ]);
      // rename(2) between two links of one file does nothing: the final name is still the old file then.
      if (b && f && b.ino === f.ino && b.dev === f.dev) await unlink(e.backup);
      else if (b) await rename(e.backup, e.final);
      // else: killed before this backup was made, so before any rename: the final file is the old one.
    } else if (!(await exists(e.temp))) await unlink(e.final).catch(() => undefined);
    await unlink(e.temp).catch(() => undefined);
  }
  for (const dir of new Set(entries.map((e) => dirname(e.final)))) await syncDirectory(dir);
  await unlink(manifestPath);
  await syncDirectory(dirname(manifestPath));
  return committed ? 'committed' : 'rolled back';
}
