import { basename, dirname, resolve } from 'node:path';
import { realpath } from 'node:fs/promises';
import { EXIT, ToolError, UsageError } from '../errors.js';
import { redact } from '../redact.js';
import { checkOutputFile } from '../settings/paths.js';
import { writeFileAtomic } from '../sinks/atomic-file.js';
import type { ClientStats } from '../graph/client.js';
import { formatLimit, type DeleteCheck, type Threshold } from '../settings/thresholds.js';
import type { WriterStats } from '../sinks/batch-writer.js';
import type { WritePacer } from '../sinks/write-pacer.js';
import type { CommandRow, ResultRow, ResultStatus, WriteBudget } from '../types.js';
import { rowsByTable, type RoundsReport } from './export-run.js';

/**
 * `--summary FILE` of export and fulfill: one JSON document per run (and connection) for schedulers and
 * monitoring, written atomically (temp file, fsync, rename) when the run ends, whether it succeeded,
 * failed or was interrupted (SIGINT, SIGTERM). Only a SIGKILL or a power cut leaves the previous
 * summary in place: its `startedAt` tells it from this run's. Never a secret: error messages go through
 * the same redaction as stderr, and no setting value is in it.
 */

/** Bumped when a field changes meaning or goes away (new fields do not bump it). */
export const SUMMARY_VERSION = 1;

/** What every summary holds, whatever the command. */
export interface SummaryHead {
  summaryVersion: typeof SUMMARY_VERSION;
  command: 'export' | 'fulfill';
  /** The connection's name, once the settings were read. */
  connection?: string;
  /** ISO 8601. */
  startedAt: string;
  endedAt: string;
  durationMs: number;
  /** The process's exit status (0, 1, 2, 3, 4, 130). */
  exit: number;
  /** A failed run's error: its code (ERR_*) and one-line message, secrets masked. */
  error?: { code: string; message: string };
}

/**
 * Checks `--summary` before anything runs: a regular file the run can write (or create) in an existing
 * folder. `-` writes the document on stdout, refused when stdout carries the run's data (`dataOnStdout`
 * says which: rows, results).
 */
export async function checkSummaryPath(
  path: string | undefined,
  dataOnStdout: string | undefined,
): Promise<void> {
  if (path === undefined) return;
  if (path === '-') {
    if (dataOnStdout)
      throw new UsageError(
        'ERR_USAGE',
        `--summary -: stdout carries the ${dataOnStdout}; name a file for the summary (e.g. --summary run.json)`,
      );
    return;
  }
  await checkOutputFile('--summary', path);
}

/**
 * Refuses a summary that would replace one of a connection's own files (CSVs, cookies, snapshot, run
 * record, lock): a file named `<connection>_...` (or its hidden temp) or `<connection>.lock` in one of
 * `folders`.
 */
export async function checkSummaryNotStateFile(
  path: string | undefined,
  connection: string,
  folders: { option: string; dir: string }[],
  state?: { refused?: boolean },
): Promise<void> {
  if (path === undefined || path === '-') return;
  const real = async (p: string) => realpath(p).catch(() => resolve(p));
  const folder = await real(dirname(resolve(path)));
  const name = basename(path);
  const own = name.startsWith(`${connection}_`) || name.startsWith(`.${connection}_`);
  if (!own && name !== `${connection}.lock`) return;
  for (const f of folders)
    if ((await real(f.dir)) === folder) {
      if (state) state.refused = true;
      throw new UsageError(
        'ERR_USAGE',
        `--summary ${path} is one of connection ${connection}'s files in ${f.option} ${f.dir}: the run would overwrite it; name another file`,
      );
    }
}

/** The exit status and error of a run that threw. */
export function failureOf(error: unknown): Pick<SummaryHead, 'exit' | 'error'> {
  if (error instanceof ToolError)
    return { exit: error.exitCode, error: { code: error.code, message: redact(error.message) } };
  return {
    exit: EXIT.failure,
    error: { code: 'ERR_INTERNAL', message: redact(error instanceof Error ? error.message : String(error)) },
  };
}

/**
 * Writes the summary: atomically to a file, or on `stdout` for `-`. The whole text goes through the
 * redaction of registered secrets, like every line on stderr.
 */
export async function writeSummary(path: string, doc: object, stdout: NodeJS.WritableStream): Promise<void> {
  const text = redact(`${JSON.stringify(doc, null, 2)}\n`);
  if (path === '-') {
    await new Promise<void>((done) => {
      if (stdout.write(text)) done();
      else stdout.once('drain', done);
    });
    return;
  }
  await writeFileAtomic(resolve(path), text);
}

/**
 * Runs a command body with a summary: times it, and writes the summary `fill()` gives whatever the
 * body ends with. A summary that cannot be written fails a run that succeeded (exit 1, its work done);
 * a run that failed keeps its own error, with a warning.
 */
export async function withSummary<S extends object>(
  options: {
    path: string | undefined;
    command: SummaryHead['command'];
    stdout: NodeJS.WritableStream;
    warn: (message: string) => void;
    /** True when the run refused the summary path itself (nothing may be written there). */
    refused?: () => boolean;
  },
  body: () => Promise<number>,
  fill: () => S & { connection?: string | undefined },
): Promise<number> {
  if (options.path === undefined) return body();
  const path = options.path;
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const doc = (outcome: Pick<SummaryHead, 'exit' | 'error'>): object => {
    const { connection, ...rest } = fill();
    const head: SummaryHead = {
      summaryVersion: SUMMARY_VERSION,
      command: options.command,
      ...(connection ? { connection } : {}),
      startedAt,
      endedAt: new Date().toISOString(),
      durationMs: Math.round(performance.now() - started),
      ...outcome,
    };
    return { ...head, ...rest };
  };
  let code: number;
  try {
    code = await body();
  } catch (error) {
    if (options.refused?.()) throw error;
    try {
      await writeSummary(path, doc(failureOf(error)), options.stdout);
    } catch (e) {
      options.warn(`--summary ${path}: not written (${e instanceof Error ? e.message : String(e)})`);
    }
    throw error;
  }
  try {
    await writeSummary(path, doc({ exit: code }), options.stdout);
  } catch (e) {
    throw new ToolError(
      'ERR_ATOMIC_FILE',
      `--summary ${path}: not written (${e instanceof Error ? e.message : String(e)}); the run itself ended with exit ${code}`,
      { cause: e },
    );
  }
  return code;
}

// --- export

/** What an export run fills in as it goes, for its summary. */
export interface ExportSummaryState {
  connection?: string;
  output?: string;
  cookieDir?: string;
  demo?: boolean;
  diff?: boolean;
  /** Each entity's round as planned (runRounds' report replaces it with the live rounds). */
  rounds?: readonly { entity: string; select: string; mode: string; objects: number; pages: number }[];
  /** Each entity's cookie age in days as the run started (an incremental round's). */
  cookieAgeDays: Record<string, number>;
  /** The summary path names one of the connection's own files: nothing is written there. */
  refused?: boolean;
  /** Whether the run is the connection's scheduled run (moves its cookies), and why not. */
  advance?: boolean;
  keepReason?: string;
  threshold?: Threshold;
  stats?: ClientStats;
  report: RoundsReport;
}

export function exportSummaryState(): ExportSummaryState {
  return { cookieAgeDays: {}, report: {} };
}

/** The export summary's body (after the head). */
export function exportSummary(s: ExportSummaryState) {
  const r = s.report;
  const rounds = r.rounds ?? s.rounds ?? [];
  const rows = r.rows ?? rowsByTable(r.counts);
  const deletes = r.deletes;
  return {
    connection: s.connection,
    ...(s.output !== undefined ? { output: s.output } : {}),
    ...(s.cookieDir !== undefined ? { cookies: s.cookieDir } : {}),
    demo: s.demo === true,
    diff: s.diff === true,
    /** advanced: this run's state is the connection's; kept: the previous cookies stay. */
    cookiesMoved: r.cookies === 'advanced',
    ...(s.advance === false && s.keepReason ? { cookiesKeptBecause: s.keepReason } : {}),
    entities: rounds.map((e) => ({
      entity: e.entity,
      mode: e.mode,
      select: e.select,
      objects: e.objects,
      pages: e.pages,
      ...(s.cookieAgeDays[e.entity] !== undefined ? { cookieAgeDays: s.cookieAgeDays[e.entity] } : {}),
    })),
    rows,
    rowsTotal: Object.values(rows).reduce((n, c) => n + Object.values(c).reduce((m, k) => m + k, 0), 0),
    pages: rounds.reduce((n, e) => n + e.pages, 0),
    requests: s.stats?.requests ?? 0,
    retries: s.stats?.retries ?? 0,
    throttled: s.stats?.throttled ?? 0,
    throttleWaitMs: Math.round(s.stats?.waitedMs ?? 0),
    resourceUnits: s.stats?.resourceUnits ?? 0,
    ...(s.threshold
      ? {
          maxDeletes: {
            limit: s.threshold.limit ? formatLimit(s.threshold.limit) : 'off',
            source: s.threshold.source,
            forced: s.threshold.forced,
            ...(deletes
              ? {
                  deletes: deletes.deletes,
                  byTable: deletes.byPlace,
                  ...(deletes.allowed !== undefined ? { allowed: deletes.allowed } : {}),
                  ...(deletes.base !== undefined ? { base: deletes.base } : {}),
                  exceeded: deletes.exceeded,
                }
              : {}),
          },
        }
      : {}),
    written: r.written ?? [],
  };
}

// --- fulfill

/** What a fulfill run fills in as it goes, for its summary. */
export interface FulfillSummaryState {
  connection?: string;
  dryRun?: boolean;
  files?: string[];
  results?: string;
  journal?: string;
  /** Rows read so far. */
  read: () => number;
  /** Results per table, command and status. */
  rows: Record<string, Record<string, Partial<Record<ResultStatus, number>>>>;
  status: Record<ResultStatus, number>;
  stats?: ClientStats;
  writer?: { stats: WriterStats; pacer: WritePacer };
  budget?: WriteBudget | null;
  threshold?: Threshold;
  deletes?: DeleteCheck;
}

export function fulfillSummaryState(): FulfillSummaryState {
  return { read: () => 0, rows: {}, status: { ok: 0, skipped: 0, failed: 0, planned: 0 } };
}

/** The table of a fulfill row, named as export names them: `directoryobjects`, `members_group`... */
export function tableOf(row: CommandRow): string {
  if (row.kind === 'link') return `${row.navigation}_${row.entity}`;
  if (row.kind === 'object') return 'directoryobjects';
  return 'invalid';
}

/** Counts one result in the summary state. */
export function countResult(s: FulfillSummaryState, row: CommandRow, result: ResultRow): void {
  const byCommand = (s.rows[tableOf(row)] ??= {});
  const byStatus = (byCommand[(result.Command || row.command || '?').toLowerCase()] ??= {});
  byStatus[result.status] = (byStatus[result.status] ?? 0) + 1;
  s.status[result.status]++;
}

/** The fulfill summary's body (after the head). */
export function fulfillSummary(s: FulfillSummaryState) {
  const w = s.writer?.stats;
  const held = s.writer?.pacer.held;
  return {
    connection: s.connection,
    dryRun: s.dryRun === true,
    inputs: s.files ?? [],
    results: s.results ?? '-',
    ...(s.journal ? { journal: s.journal } : {}),
    read: s.read(),
    status: s.status,
    rows: s.rows,
    requests: s.stats?.requests ?? 0,
    batches: w?.batches ?? 0,
    retries: (s.stats?.retries ?? 0) + (w ? w.itemRetries + w.batchRetries : 0),
    throttled: (s.stats?.throttled ?? 0) + (w?.throttled ?? 0),
    throttleWaitMs: Math.round((s.stats?.waitedMs ?? 0) + (held?.throttleMs ?? 0)),
    writeBudget:
      s.budget === undefined
        ? undefined
        : s.budget === null
          ? 'off'
          : `${s.budget.writes}/${s.budget.windowMs / 1000}`,
    budgetWaitMs: Math.round(held?.budgetMs ?? 0),
    ...(s.threshold
      ? {
          maxDeletes: {
            limit: s.threshold.limit ? formatLimit(s.threshold.limit) : 'off',
            source: s.threshold.source,
            forced: s.threshold.forced,
            ...(s.deletes
              ? {
                  deletes: s.deletes.deletes,
                  byFile: s.deletes.byPlace,
                  ...(s.deletes.allowed !== undefined ? { allowed: s.deletes.allowed } : {}),
                  ...(s.deletes.base !== undefined ? { base: s.deletes.base } : {}),
                  exceeded: s.deletes.exceeded,
                }
              : {}),
          },
        }
      : {}),
  };
}
