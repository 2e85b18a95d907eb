import { randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { ToolError } from '../errors.js';

/** A file written under a temporary name and renamed into place only by {@link AtomicFile.commit}. */
export interface AtomicFile {
  /** The final path. */
  path: string;
  /** `.<name>.<pid>.<random>.tmp`, in the same directory so that the rename is atomic. */
  tempPath: string;
  stream: Writable;
  /** Ends the stream, fsyncs and closes the temp file, leaving it unrenamed (for multi-file commits). */
  flush(): Promise<void>;
  /** {@link flush}, then rename over `path` and fsync the directory so the rename survives a crash. */
  commit(): Promise<void>;
  /** Destroys the stream and removes the temp file; `path` is untouched. A no-op after commit. */
  abort(): Promise<void>;
}

/** The temp name next to `path`: hidden, unique per process and call. */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
}

/**
 * Opens `path` for an atomic write. Until `commit()`, the previous file (if any) stays as it was,
 * whatever happens to the process: a killed run leaves at most a stray `.tmp` file.
 * @example const f = createAtomicFile('out.csv'); f.stream.write('a\n'); await f.commit();
 */
export function createAtomicFile(path: string): AtomicFile {
  const tempPath = tempPathFor(path);
  // flush: fsync before close (Node >= 20.10); 'wx' never reuses someone else's temp file.
  const stream: WriteStream = createWriteStream(tempPath, { flags: 'wx', flush: true });
  let state: 'open' | 'committed' | 'aborted' = 'open';
  let failure: Error | undefined;
  stream.on('error', (error) => (failure ??= error));
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));

  const flush = async (): Promise<void> => {
    if (state !== 'open') throw new ToolError('ERR_ATOMIC_FILE', `${path}: already ${state}`);
    if (!stream.writableEnded && !stream.destroyed) stream.end();
    await closed;
    if (failure || !stream.writableFinished)
      throw new ToolError(
        'ERR_ATOMIC_FILE',
        `cannot write ${tempPath}: ${failure?.message ?? 'closed early'}`,
        {
          cause: failure,
        },
      );
  };
  return {
    path,
    tempPath,
    stream,
    flush,
    async commit() {
      await flush();
      try {
        await rename(tempPath, path);
      } catch (error) {
        await removeQuietly(tempPath);
        throw new ToolError('ERR_ATOMIC_FILE', `cannot rename ${tempPath} to ${path}`, { cause: error });
      }
      state = 'committed';
      await syncDirectory(dirname(path));
    },
    async abort() {
      if (state !== 'open') return;
      state = 'aborted';
      if (!stream.closed) {
        stream.destroy();
        await closed;
      }
      await removeQuietly(tempPath);
    },
  };
}

/**
 * Writes `data` to a new temp file next to `path` (created with `mode`, fsynced) and returns its name,
 * for the caller to rename into place; nothing is left behind when it fails.
 */
export async function writeTempFile(path: string, data: string | Uint8Array, mode = 0o666): Promise<string> {
  const tempPath = tempPathFor(path);
  try {
    const handle = await open(tempPath, 'wx', mode);
    try {
      await handle.writeFile(data);
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch (error) {
    await removeQuietly(tempPath);
    throw error;
  }
  return tempPath;
}

/**
 * Writes a whole file atomically: temp file (with `mode`, e.g. 0o600 for a file that holds secrets, so
 * it is never readable by others, not even for a moment), fsync, rename, fsync of the directory.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  options: { mode?: number } = {},
): Promise<void> {
  let tempPath: string | undefined;
  try {
    tempPath = await writeTempFile(path, data, options.mode);
    await rename(tempPath, path);
  } catch (error) {
    if (tempPath) await removeQuietly(tempPath);
    throw new ToolError('ERR_ATOMIC_FILE', `cannot write ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  await syncDirectory(dirname(path));
}

async function removeQuietly(path: string): Promise<void> {
  await unlink(path).catch(() => undefined);
}

// Without it a power cut can lose the rename itself. Directories cannot be opened for fsync on Windows:
// there the rename is already as durable as the platform allows.
export async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort, see above
  }
}
