import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse';
import { entityFromOdataType, type EntityName } from '../graph/schema.js';
import type { ParallelState, RoundMode, TableRow } from '../types.js';
import { writeFileAtomic } from './atomic-file.js';
import { partPath } from './csv-file.js';

/**
 * Resumable rounds. A scheduled export to a folder writes its tables to part files
 * (`<out>/.<connection>_<table>.csv.part`) and, every few pages, a checkpoint beside the cookies
 * (`<cookies>/.<connection>_resume.json`, written atomically): each part file's length once fsynced,
 * and where each entity's round goes on (the nextLink after the last page whose rows are in those
 * bytes, or the deltaLink of a finished round). The next run of the same connection, with the same
 * settings, mapping, output and cookies, cuts the parts back to those lengths and follows the
 * links from there: every row of the round is in the final files exactly once. The commit renames the
 * parts into place and the checkpoint goes.
 */

/** Where an entity's round stands at a checkpoint. */
export interface RoundCheckpoint {
  mode: RoundMode;
  /** The link to follow next; null when no page of the round was written yet. */
  next: string | null;
  /** The round's deltaLink, once its last page was written. */
  deltaLink?: string;
  objects: number;
  pages: number;
  /** A round read in `--parallel` partitions, mid-way: each chain of pages, where it goes on. */
  parallel?: ParallelState;
}

export interface Checkpoint {
  version: 1;
  /** {@link resumeKey} of the run that wrote it. */
  key: string;
  savedAt: string;
  /** The output folder of the part files. */
  dir: string;
  rounds: Partial<Record<EntityName, RoundCheckpoint>>;
  /** Each table's part file length, in bytes. */
  files: Record<string, number>;
  /** Rows counted by `<table> <Command>` up to the checkpoint (the run's summary line). */
  counts: [string, number][];
}

/** `<cookies>/.<connection>_resume.json` */
export function checkpointPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `.${connection}_resume.json`);
}

/**
 * What a checkpoint is only valid for: the tenant and Graph, the output folder, the tables and their
 * columns, and each round's `$select` and starting cookie (a committed run since changes them).
 */
export function resumeKey(input: {
  tenantId: string;
  graphUrl: string;
  output: string;
  tables: readonly { table: string; columns: string[] }[];
  rounds: readonly { entity: string; select: string; cookie?: string }[];
}): string {
  return createHash('sha256').update(JSON.stringify(input)).digest('hex');
}

/** The checkpoint, or undefined when there is none or it cannot be read (then it is not used). */
export async function readCheckpoint(path: string): Promise<Checkpoint | undefined> {
  try {
    const cp = JSON.parse(await readFile(path, 'utf8')) as Partial<Checkpoint>;
    if (cp.version === 1 && typeof cp.key === 'string' && cp.rounds && cp.files && Array.isArray(cp.counts))
      return cp as Checkpoint;
  } catch {
    // missing, or not one of ours: no resume
  }
  return undefined;
}

export async function saveCheckpoint(path: string, cp: Checkpoint): Promise<void> {
  await writeFileAtomic(path, JSON.stringify(cp), { mode: 0o600 });
}

/** Removes the checkpoint and the part files of `tables` (a run that starts over, or has committed). */
export async function discardResume(
  cpPath: string,
  dir: string,
  connection: string,
  tables: readonly { table: string }[],
): Promise<void> {
  await unlink(cpPath).catch(() => undefined);
  for (const { table } of tables) await unlink(partPath(dir, connection, table)).catch(() => undefined);
}

/** True when every part file is there and at least as long as the checkpoint says. */
export async function partsIntact(cp: Checkpoint, dir: string, connection: string): Promise<boolean> {
  for (const [table, bytes] of Object.entries(cp.files)) {
    const s = await stat(partPath(dir, connection, table)).catch(() => undefined);
    if (!s || s.size < bytes) return false;
  }
  return true;
}

/**
 * Reads the object rows a resumed round already wrote (the `directoryobjects` part, up to the
 * checkpoint): `onId` for each id (the round's seen ids: a repeat is an update, not a second insert),
 * and each round's last row (a repeat that only carries more links is not written again).
 */
export async function readWrittenObjects(
  path: string,
  bytes: number,
  onId: (id: string) => void,
): Promise<Map<EntityName, TableRow>> {
  const last = new Map<EntityName, TableRow>();
  if (bytes === 0) return last;
  const parser = createReadStream(path, { start: 0, end: bytes - 1 }).pipe(
    parse({ columns: true, relax_column_count: false }),
  );
  for await (const cells of parser as AsyncIterable<Record<string, string>>) {
    if (cells.id && cells.Command !== 'delete') onId(cells.id);
    const entity = entityFromOdataType(cells['@odata.type'] ?? '');
    if (entity) last.set(entity, { table: 'directoryobjects', cells });
  }
  return last;
}
