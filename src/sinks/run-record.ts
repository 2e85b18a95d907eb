import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic, writeTempFile } from './atomic-file.js';

/**
 * What the connection's scheduled runs did, for `entra state` and monitoring:
 * `<cookies>/<connection>_runs.json`, `{ "last": RunRecord, "committed": RunRecord }`. The committed
 * run's record is written in the commit step, with the cookies; a scheduled run that fails replaces
 * `last` only. Ad-hoc runs (which move no state) are not recorded.
 */
export interface RunRecord {
  /** ISO 8601: when the run started and ended. */
  startedAt: string;
  endedAt: string;
  /** The process's exit status: 0, or the failure's (1, 2, 4, 130). */
  exit: number;
  /** The error's code, for a failed run. */
  error?: string;
  /** Each entity's round: complete or incremental. */
  modes: Record<string, string>;
  /** Rows by `<table> <Command>`. */
  rows: Record<string, number>;
  pages: number;
  /** With `--diff` (the rows are exact changes against the snapshot). */
  diff: boolean;
  /** Where the CSVs went: a folder, or `-`. */
  output: string;
}

export interface RunRecords {
  last?: RunRecord;
  committed?: RunRecord;
}

export function runRecordPath(cookieDir: string, connection: string): string {
  return join(cookieDir, `${connection}_runs.json`);
}

/** The connection's run records; empty when there are none (or they cannot be read). */
export async function readRunRecords(cookieDir: string, connection: string): Promise<RunRecords> {
  try {
    const records = JSON.parse(await readFile(runRecordPath(cookieDir, connection), 'utf8')) as RunRecords;
    return records && typeof records === 'object' ? records : {};
  } catch {
    return {};
  }
}

/** A committed run's records under a temp name, for the commit step to rename into place. */
export async function stageRunRecord(
  cookieDir: string,
  connection: string,
  record: RunRecord,
): Promise<{ temp: string; final: string }> {
  const final = runRecordPath(cookieDir, connection);
  const text = `${JSON.stringify({ last: record, committed: record } satisfies RunRecords, null, 2)}\n`;
  return { temp: await writeTempFile(final, text), final };
}

/** Records a scheduled run that failed: `last` only, the committed run's record stays. */
export async function recordFailedRun(
  cookieDir: string,
  connection: string,
  record: RunRecord,
): Promise<void> {
  const { committed } = await readRunRecords(cookieDir, connection);
  const records: RunRecords = { last: record, ...(committed ? { committed } : {}) };
  await writeFileAtomic(runRecordPath(cookieDir, connection), `${JSON.stringify(records, null, 2)}\n`);
}
