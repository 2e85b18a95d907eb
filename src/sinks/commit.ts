import { open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ToolError } from '../errors.js';
import { syncDirectory, writeFileAtomic } from './atomic-file.js';

/** Where a connection's commit manifest lives: beside its cookies. */
export function commitManifestPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `.${connection}_commit.json`);
}

/** A file written and synced under a temporary name, waiting to be renamed into place. */
export interface StagedFile {
  temp: string;
  final: string;
}

interface Manifest {
  version: 1;
  files: StagedFile[];
}

/**
 * Renames every staged file into place as one step. The step is recorded first in a manifest, so a
 * run killed in the middle of the renames (a window of microseconds: every byte is already on disk)
 * is finished by the next run's {@link recoverCommit} rather than left half old, half new.
 */
export async function commitStaged(manifestPath: string, files: StagedFile[]): Promise<void> {
  const manifest: Manifest = { version: 1, files };
  await writeFileAtomic(manifestPath, JSON.stringify(manifest));
  try {
    for (const f of files) await rename(f.temp, f.final);
  } catch (error) {
    throw new ToolError(
      'ERR_ATOMIC_FILE',
      `cannot move the new files into place; the next run finishes the job`,
      { cause: error },
    );
  }
  for (const dir of new Set(files.map((f) => dirname(f.final)))) await syncDirectory(dir);
  await unlink(manifestPath);
  await syncDirectory(dirname(manifestPath));
}

/**
 * Finishes a commit that a killed run left half done (renames the staged files that are still
 * there); true when there was one. Run it before sweeping stale temporary files.
 */
export async function recoverCommit(manifestPath: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(manifestPath, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
  let manifest: Manifest;
  try {
    manifest = JSON.parse(text) as Manifest;
  } catch {
    // A torn manifest: the run died before its first rename (the manifest is written atomically,
    // so this is only a foreign file): nothing to finish.
    await unlink(manifestPath);
    return false;
  }
  for (const f of manifest.files ?? []) {
    const handle = await open(f.temp, 'r').catch(() => undefined);
    if (!handle) continue;
    await handle.close();
    await rename(f.temp, f.final);
  }
  for (const dir of new Set((manifest.files ?? []).map((f) => dirname(f.final)))) await syncDirectory(dir);
  await unlink(manifestPath);
  return true;
}
