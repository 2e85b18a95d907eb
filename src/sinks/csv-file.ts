import { createWriteStream, fsync, mkdirSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { stringify, type Options } from 'csv-stringify';
import { stringify as stringifySync } from 'csv-stringify/sync';
import { ToolError } from '../errors.js';
import type { PageMark, TableRow } from '../types.js';
import { createAtomicFile, type AtomicFile } from './atomic-file.js';

/** One CSV table and its header. */
export interface TableSpec {
  table: string;
  columns: string[];
}

/** Writes rows to one CSV file per table; nothing is visible under the final names before `commit()`. */
export interface TableWriter {
  /** objectMode; takes {@link TableRow}s. Ending it flushes and fsyncs every temp file. */
  writable: Writable;
  /** Once every table is flushed, renames them all into place; resolves with the final paths. */
  commit(): Promise<string[]>;
  /** Flushes and syncs every table under its temp name, for a caller that renames them with other files. */
  stage(): Promise<{ temp: string; final: string }[]>;
  /** Stops writing and deletes the temp files; the previous CSVs stay as they were. */
  abort(): Promise<void>;
  /** Rows written so far, by `<table> <Command>`. */
  readonly counts: ReadonlyMap<string, number>;
  /**
   * Resumable writers only: once every row taken so far is written, fsyncs each part file and
   * resolves with its length in bytes (what a checkpoint records).
   */
  sync(): Promise<Record<string, number>>;
}

/** `.<connection>_<table>.csv.part`: a resumable run's file of one table, beside its final name. */
export function partPath(dir: string, connection: string, table: string): string {
  return join(dir, `.${connection}_${table}.csv.part`);
}

/** A part file: appended to, fsynced at checkpoints, renamed into place at commit; kept on failure. */
function createPartFile(path: string, resumeAt: number | undefined): AtomicFile & { fd: () => number } {
  if (resumeAt !== undefined) truncateSync(path, resumeAt);
  const stream = createWriteStream(path, { flags: resumeAt !== undefined ? 'a' : 'w', flush: true });
  let failure: Error | undefined;
  stream.on('error', (error) => (failure ??= error));
  const closed = new Promise<void>((resolve) => stream.once('close', resolve));
  const flush = async () => {
    if (!stream.writableEnded && !stream.destroyed) stream.end();
    await closed;
    if (failure || !stream.writableFinished)
      throw new ToolError('ERR_ATOMIC_FILE', `cannot write ${path}: ${failure?.message ?? 'closed early'}`, {
        cause: failure,
      });
  };
  return {
    path,
    tempPath: path,
    stream,
    flush,
    fd: () => (stream as unknown as { fd: number }).fd,
    commit: () => Promise.reject(new ToolError('ERR_INTERNAL', 'part files are committed by commitStaged')),
    async abort() {
      // Kept: the next run resumes from it, or removes it when there is no checkpoint to resume from.
      if (!stream.closed) {
        stream.destroy();
        await closed;
      }
    },
  };
}

/** A writer to a stream that the reader may close early (`| head`): EPIPE ends it cleanly. */
export interface StdoutWriter {
  writable: Writable;
  /** True once the output was closed by its reader: the run is incomplete, write no cookies. */
  readonly closedEarly: boolean;
  /** Rows taken so far, by `<table> <Command>`, written or not. */
  readonly counts: ReadonlyMap<string, number>;
  /** Rows of other tables than the one written (`--format csv`): a run that drops rows writes no cookies. */
  readonly dropped: number;
}

/** Counts a row by `<table> <Command>`, for the run's summary line. */
function count(counts: Map<string, number>, row: TableRow): void {
  const key = `${row.table} ${row.cells.Command}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/**
 * The CSV dialect of DESIGN.md §3: `\n` line ends, no BOM, fields quoted only when RFC 4180 needs it
 * (delimiter, quote, CR or LF inside). Leading and trailing spaces are part of a field (RFC 4180 §2.4)
 * and are kept unquoted: csv-parse reads them back as they are.
 */
// csv-stringify quotes a LF but not a lone CR, which RFC 4180 readers take for a line end: quote it too.
export const CSV_OPTIONS: Options = { record_delimiter: '\n', bom: false, quoted_match: /\r/ };

const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV record, `\n`-terminated, quoted exactly where csv-stringify with {@link CSV_OPTIONS} quotes
 * (a delimiter, quote, CR or LF inside; quotes doubled). The export's hot path: millions of rows, where
 * csv-stringify's per-record machinery cost more than the rest of the pipeline (bench/run.ts profile).
 * test/sinks/csv-file.test.ts checks it against csv-stringify on every kind of cell.
 */
export function csvRecord(columns: readonly string[], cells: Record<string, string>): string {
  let line = '';
  for (let i = 0; i < columns.length; i++) {
    if (i > 0) line += ',';
    const v = cells[columns[i]!];
    // Most cells of a wide table are empty.
    if (v === undefined || v === '') continue;
    line += NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  }
  return `${line}\n`;
}

/** `csvRecord` for one fixed column list, see {@link compileCsvRecord}. */
export type CsvRecordOf = (cells: Record<string, string>) => string;

const quoteCell = (v: string | undefined): string =>
  v === undefined || v === '' ? '' : NEEDS_QUOTES.test(v) ? `"${v.replace(/"/g, '""')}"` : v;

/**
 * {@link csvRecord} for one table, compiled once: `q(c["Command"]) + "," + q(c["id"]) + ... + "\n"`.
 * Same text for every row (test/sinks/csv-file.test.ts compares them), at a fraction of the generic
 * loop's CPU: each cell read has its own inline cache instead of one megamorphic keyed read per cell.
 * Column names enter the code only as JSON string literals.
 */
export function compileCsvRecord(columns: readonly string[]): CsvRecordOf {
  if (columns.length === 0) return () => '\n';
  const body = columns.map((c) => `q(c[${JSON.stringify(c)}])`).join(" + ',' + ");
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from JSON literals only, see above
  const make = new Function('q', `return function csvRecord(c) {\n  return ${body} + '\\n';\n};`);
  return make(quoteCell) as CsvRecordOf;
}

function toArray(columns: readonly string[], cells: Record<string, string>): string[] {
  const out = new Array<string>(columns.length);
  for (let i = 0; i < columns.length; i++) out[i] = cells[columns[i]!] ?? '';
  return out;
}

function invalid(option: string, value: unknown, why: string): ToolError {
  return new ToolError('ERR_INVALID_OPTION', `${option}: ${why}, got ${JSON.stringify(value)}`);
}

/**
 * Opens `<dir>/<connection>_<table>.csv` for each table (temp names), header always written, and
 * routes each row to its table with backpressure from every file.
 * @example
 * const w = createTableWriter({ dir, connection, tables: exportTables(mapping) });
 * try { await pipeline(rows, w.writable); await w.commit(); } catch (e) { await w.abort(); throw e; }
 */
export function createTableWriter(options: {
  dir: string;
  connection: string;
  tables: TableSpec[];
  /**
   * Write to part files ({@link partPath}) that a later run can resume: `resumeAt` gives each table's
   * length at the checkpoint resumed from (the files are cut there, and no header is written again),
   * `counts` the rows counted up to it; `onMark` is called at each {@link PageMark} in the rows.
   */
  parts?: {
    resumeAt?: Record<string, number>;
    counts?: [string, number][];
    onMark: (mark: PageMark) => Promise<void>;
  };
}): TableWriter {
  const { dir, connection, tables, parts } = options;
  if (typeof dir !== 'string' || !dir) throw invalid('dir', dir, 'expected a directory');
  if (typeof connection !== 'string' || !connection)
    throw invalid('connection', connection, 'expected a name');
  if (!Array.isArray(tables) || tables.length === 0)
    throw invalid('tables', tables, 'expected at least one table');
  if (new Set(tables.map((t) => t.table)).size !== tables.length)
    throw invalid('tables', tables, 'duplicate table');
  for (const { table, columns } of tables)
    if (!Array.isArray(columns) || columns.length === 0)
      throw invalid(`columns of ${table}`, columns, 'expected names');
  try {
    mkdirSync(dir, { recursive: true });
  } catch (error) {
    throw new ToolError('ERR_ATOMIC_FILE', `cannot create the output directory ${dir}`, { cause: error });
  }

  interface Open {
    columns: string[];
    record: CsvRecordOf;
    file: AtomicFile & { fd?: () => number };
    bytes: number;
    /** This page's lines (joined into one text, one write, at the end of the page). */
    lines: string[];
  }
  const open = new Map<string, Open>();
  const counts = new Map<string, number>(parts?.counts ?? []);
  // Rows arrive a page at a time: each table's rows of a page become one CSV text, one write.
  const writable = new Writable({
    objectMode: true,
    write(chunk: TableRow | TableRow[] | PageMark, _encoding, callback) {
      if (!Array.isArray(chunk) && 'kind' in chunk) {
        if (!parts) return callback();
        parts.onMark(chunk).then(() => callback(), callback);
        return;
      }
      const rows = Array.isArray(chunk) ? chunk : [chunk];
      const touched = new Set<Open>();
      for (const row of rows) {
        const t = open.get(row.table);
        if (!t) {
          for (const u of touched) u.lines.length = 0;
          return callback(new ToolError('ERR_CSV_TABLE', `no CSV table '${row.table}' in this export`));
        }
        count(counts, row);
        t.lines.push(t.record(row.cells));
        touched.add(t);
      }
      let pending = 1;
      const done = () => {
        if (--pending === 0) callback();
      };
      for (const t of touched) {
        // One flat string (join allocates it once), encoded once: its length is the bytes written.
        const bytes = Buffer.from(t.lines.join(''), 'utf8');
        t.lines.length = 0;
        t.bytes += bytes.length;
        if (!t.file.stream.write(bytes)) {
          pending++;
          t.file.stream.once('drain', done);
        }
      }
      done();
    },
    final(callback) {
      Promise.all([...open.values()].map((t) => t.file.flush())).then(
        () => callback(),
        (error: Error) => callback(error),
      );
    },
    destroy(error, callback) {
      for (const t of open.values()) t.file.stream.destroy();
      callback(error);
    },
  });
  for (const { table, columns } of tables) {
    const final = join(dir, `${connection}_${table}.csv`);
    const resumeAt = parts?.resumeAt?.[table];
    const file = parts
      ? { ...createPartFile(partPath(dir, connection, table), resumeAt), path: final }
      : createAtomicFile(final);
    // A failing file fails the whole writer, so the run's pipeline rejects.
    file.stream.once('error', (error) => writable.destroy(error));
    let bytes = resumeAt ?? 0;
    if (resumeAt === undefined) {
      const header = stringifySync([columns], CSV_OPTIONS);
      file.stream.write(header);
      bytes += Buffer.byteLength(header);
    }
    open.set(table, { columns, record: compileCsvRecord(columns), file, bytes, lines: [] });
  }

  let committed = false;
  return {
    writable,
    counts,
    async sync() {
      const sizes: Record<string, number> = {};
      for (const [table, t] of open) {
        // An empty write's callback fires once everything written before it is on the file.
        await new Promise<void>((resolve, reject) =>
          t.file.stream.write('', (e) => (e ? reject(e) : resolve())),
        );
        const fd = t.file.fd?.();
        if (fd !== undefined)
          await new Promise<void>((resolve, reject) => fsync(fd, (e) => (e ? reject(e) : resolve())));
        sizes[table] = t.bytes;
      }
      return sizes;
    },
    async stage() {
      if (!writable.writableEnded) writable.end();
      await finishedOrFailed(writable);
      committed = true;
      return [...open.values()].map((t) => ({ temp: t.file.tempPath, final: t.file.path }));
    },
    async commit() {
      if (!writable.writableEnded) writable.end();
      await finishedOrFailed(writable);
      const paths: string[] = [];
      for (const t of open.values()) {
        await t.file.commit();
        paths.push(t.file.path);
      }
      committed = true;
      return paths;
    },
    async abort() {
      if (committed) return;
      writable.destroy();
      await Promise.all([...open.values()].map((t) => t.file.abort()));
    },
  };
}

function finishedOrFailed(w: Writable): Promise<void> {
  if (w.writableFinished) return Promise.resolve();
  if (w.errored) return Promise.reject(w.errored);
  return new Promise((resolve, reject) => {
    w.once('finish', resolve);
    w.once('error', reject);
    w.once('close', () =>
      w.writableFinished ? resolve() : reject(w.errored ?? new Error('writer closed early')),
    );
  });
}

/**
 * Watches `out` (stdout) so that an EPIPE (reader gone, `| head`) ends the writer without an error.
 * The listener stays on `out`: an EPIPE can arrive after the last write.
 */
function closeOnEpipe(out: Writable, writable: Writable, onClose: () => void): void {
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE' && error.code !== 'ERR_STREAM_DESTROYED') return void writable.destroy(error);
    onClose();
    writable.destroy();
  });
}

// An empty write's callback fires once everything written before it is flushed.
function drained(out: Writable, callback: (error?: Error | null) => void): void {
  if (out.destroyed) callback();
  else out.write('', () => callback());
}

/** `--output - --format csv`: the rows of one table, with its header, to `out`; other tables' rows are dropped. */
export function createCsvStdoutWriter(out: Writable, table: string, columns: string[]): StdoutWriter {
  if (!Array.isArray(columns) || columns.length === 0) throw invalid('columns', columns, 'expected names');
  let closedEarly = false;
  let dropped = 0;
  const counts = new Map<string, number>();
  const csv = stringify({ ...CSV_OPTIONS, header: true, columns });
  const writable = new Writable({
    objectMode: true,
    write(chunk: TableRow | TableRow[], _encoding, callback) {
      let ok = true;
      for (const row of Array.isArray(chunk) ? chunk : [chunk]) {
        count(counts, row);
        if (row.table === table) ok = csv.write(toArray(columns, row.cells));
        else dropped++;
      }
      if (ok) callback();
      else csv.once('drain', () => callback());
    },
    final(callback) {
      csv.once('end', () => drained(out, callback));
      csv.end();
    },
    destroy(error, callback) {
      csv.unpipe(out);
      csv.destroy();
      callback(error);
    },
  });
  csv.pipe(out, { end: false });
  csv.once('error', (error) => writable.destroy(error));
  closeOnEpipe(out, writable, () => (closedEarly = true));
  return {
    writable,
    counts,
    get closedEarly() {
      return closedEarly;
    },
    get dropped() {
      return dropped;
    },
  };
}

/**
 * One NDJSON line of a row: `table` first, then `Command`, `@odata.type` and the row's own columns as typed
 * JSON values (its `values`, from the router), or, for a row without them (link rows), its cells with
 * `null` for an empty one.
 */
export function ndjsonRecord(row: TableRow): string {
  const { table, cells, values } = row;
  const out: Record<string, unknown> = { table };
  if (values) {
    out.Command = cells.Command;
    if (cells['@odata.type'] !== undefined) out['@odata.type'] = cells['@odata.type'];
    for (const k in values) out[k] = values[k];
  } else for (const k in cells) out[k] = cells[k] === '' ? null : cells[k];
  return `${JSON.stringify(out)}\n`;
}

/** `--output - --format ndjson`: every row of every table, one JSON object a line (see {@link ndjsonRecord}). */
export function createNdjsonWriter(out: Writable): StdoutWriter {
  let closedEarly = false;
  const counts = new Map<string, number>();
  const writable = new Writable({
    objectMode: true,
    writev(chunks, callback) {
      let text = '';
      for (const { chunk } of chunks)
        for (const row of Array.isArray(chunk) ? (chunk as TableRow[]) : [chunk as TableRow]) {
          count(counts, row);
          text += ndjsonRecord(row);
        }
      if (out.write(text)) callback();
      else out.once('drain', () => callback());
    },
    final(callback) {
      drained(out, callback);
    },
  });
  closeOnEpipe(out, writable, () => (closedEarly = true));
  return {
    writable,
    counts,
    dropped: 0,
    get closedEarly() {
      return closedEarly;
    },
  };
}

/**
 * Runs `source` into a writer and resolves, instead of rejecting, when the reader closed the output
 * early (EPIPE on `out`): the command then exits 0 without writing cookies.
 */
export async function pipeRows(
  source: Readable,
  writer: Pick<StdoutWriter, 'writable' | 'closedEarly'>,
): Promise<{ closedEarly: boolean }> {
  try {
    await pipeline(source, writer.writable);
  } catch (error) {
    if (!writer.closedEarly) throw error;
  }
  return { closedEarly: writer.closedEarly };
}
