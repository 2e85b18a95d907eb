import { Writable } from 'node:stream';
import { stringify } from 'csv-stringify/sync';
import { ToolError } from '../errors.js';
import { redact } from '../redact.js';
import type { InputWindow } from '../streams/input-window.js';
import type { CommandRow, FulfillMsg, Outcome, ResultRow, ResultStatus } from '../types.js';

/**
 * Fulfill result rows (DESIGN §4): one per input row, as CSV (RFC 4180, header, `\n`) or NDJSON, with the
 * columns in the contract's order. A reader that goes away (`| head`, EPIPE) ends the output quietly.
 */

/** The contract's column order. */
export const RESULT_COLUMNS = [
  'line',
  'Command',
  '@odata.type',
  'id',
  'status',
  'httpStatus',
  'errorCode',
  'message',
  'newId',
  'file',
  'ownerId',
  // Added after the contract's first eleven columns, so that readers by position keep working.
  'key',
] as const satisfies readonly (keyof ResultRow)[];

/** The column `--redeem-urls` adds after the others: each invited guest's redeem link. */
export const REDEEM_URL_COLUMN = 'inviteRedeemUrl';

export interface ResultsWriterOptions {
  out: Writable;
  format: 'csv' | 'ndjson';
  /** Add the inviteRedeemUrl column (`--redeem-urls`): `out` must be a protected file. */
  redeemUrls?: boolean;
  /** End `out` in end(); default true. Pass false for a stream that others still write to. */
  endOut?: boolean;
}

export interface ResultsWriter {
  /** Resolves when `out` can take more (backpressure). */
  write(row: ResultRow): Promise<void>;
  /** Writes the CSV header if no row came, then ends `out` (unless endOut is false). */
  end(): Promise<void>;
  /** True once the reader has gone away (EPIPE): further rows are dropped. */
  readonly broken: boolean;
}

export type { Outcome } from '../types.js';

// Last line of defence: result messages quote Graph and our own errors, and neither may carry a password.
const JSON_SECRET = /("[^"]*password"\s*:\s*)"(?:[^"\\]|\\.)*"/gi;

/** `message` with any JSON `"...password": "..."` value and any registered secret (redact.ts) masked. */
export function scrubSecrets(message: string): string {
  return message ? redact(message.replace(JSON_SECRET, '$1"***"')) : message;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const KEY_OF: Record<string, string> = { user: 'userPrincipalName', group: 'mailNickname' };

/**
 * The key of an object row's object: its userPrincipalName (users) or mailNickname (groups), from the
 * request (a group's derived mailNickname), the row's cells, or its `id` when the row names it by key.
 * Empty for link rows and objects without one (service principals, an update by id without the key).
 */
export function objectKeyOf(row: CommandRow, body?: Record<string, unknown>): string {
  if (row.kind !== 'object') return '';
  const property = KEY_OF[row.entity];
  if (!property) return '';
  const value = body?.[property] ?? row.values[property];
  if (typeof value === 'string' && value) return value;
  return row.id && !GUID.test(row.id) ? row.id : '';
}

/**
 * The result row of `row`. Invalid rows fail with errorCode `ERR_ROW_INVALID` unless told otherwise;
 * link rows put the owner in `ownerId`, the linked object in `id`, and leave `@odata.type` empty.
 * `key` is the object's userPrincipalName or mailNickname (see {@link objectKeyOf}).
 */
export function resultFor(row: CommandRow, outcome: Outcome, key = objectKeyOf(row)): ResultRow {
  const common = {
    line: row.line,
    Command: row.command,
    status: outcome.status,
    httpStatus: outcome.httpStatus === undefined ? '' : String(outcome.httpStatus),
    errorCode: outcome.errorCode ?? (row.kind === 'invalid' ? 'ERR_ROW_INVALID' : ''),
    message: scrubSecrets(outcome.message ?? (row.kind === 'invalid' ? row.message : '')),
    newId: outcome.newId ?? '',
    file: row.file,
    key,
  };
  if (row.kind === 'link') return { ...common, '@odata.type': '', id: row.targetId, ownerId: row.ownerId };
  if (row.kind === 'object')
    return { ...common, '@odata.type': row.odataType, id: row.id ?? '', ownerId: '' };
  return { ...common, '@odata.type': row.odataType, id: row.id, ownerId: row.ownerId ?? '' };
}

type ResultColumn = (typeof RESULT_COLUMNS)[number] | typeof REDEEM_URL_COLUMN;

function cells(row: ResultRow, columns: readonly ResultColumn[]): string[] {
  return columns.map((c) => (c === 'message' ? scrubSecrets(row.message) : String(row[c] ?? '')));
}

/** Result columns that are numbers in NDJSON. */
const NUMERIC = new Set<string>(['line', 'httpStatus']);

function serialize(row: ResultRow, format: 'csv' | 'ndjson', columns: readonly ResultColumn[]): string {
  const values = cells(row, columns);
  if (format === 'csv')
    // csv-stringify quotes \n but not a lone \r, which RFC 4180 readers take for a line end.
    return stringify([values], { record_delimiter: '\n', quoted_match: /\r/ });
  // NDJSON: numbers as numbers (`line`, `httpStatus`), null for an empty column, like the export's NDJSON.
  const typed = Object.fromEntries(
    columns.map((c, i) => [c, values[i] === '' ? null : NUMERIC.has(c) ? Number(values[i]) : values[i]]),
  );
  return `${JSON.stringify(typed)}\n`;
}

/**
 * A writer of result rows to `out`.
 *
 * @example
 * const results = createResultsWriter({ out: process.stdout, format: 'csv', endOut: false });
 * await results.write(resultFor(row, { status: 'ok', httpStatus: 204 }));
 * await results.end();
 */
export function createResultsWriter(options: ResultsWriterOptions): ResultsWriter {
  const { out, format } = options;
  if (format !== 'csv' && format !== 'ndjson')
    throw new ToolError('ERR_INVALID_OPTION', `format must be csv or ndjson, got ${JSON.stringify(format)}`);
  const columns: readonly ResultColumn[] = options.redeemUrls
    ? [...RESULT_COLUMNS, REDEEM_URL_COLUMN]
    : RESULT_COLUMNS;
  let broken = false;
  let failure: Error | undefined;
  let headerDone = format === 'ndjson';
  out.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') broken = true;
    else failure ??= error;
  });

  const settle = (event: 'drain' | 'finish') =>
    new Promise<void>((resolve) => {
      const done = () => {
        out.off(event, done).off('error', done).off('close', done);
        resolve();
      };
      out.on(event, done).on('error', done).on('close', done);
    });

  // A function, not inline checks: the 'error' listener changes `failure` behind the compiler's back.
  const check = () => {
    if (failure) throw failure;
  };
  const push = async (chunk: string) => {
    check();
    if (broken || out.destroyed) return;
    if (!out.write(chunk)) await settle('drain');
    check();
  };

  const header = async () => {
    if (headerDone) return;
    headerDone = true;
    await push(stringify([[...columns]], { record_delimiter: '\n' }));
  };

  return {
    get broken() {
      return broken;
    },
    async write(row) {
      await header();
      await push(serialize(row, format, columns));
    },
    async end() {
      await header();
      if (options.endOut !== false && !broken && !out.destroyed && !out.writableEnded) {
        const finished = settle('finish');
        out.end();
        await finished;
      }
      check();
    },
  };
}

export type ResultSummary = Record<ResultStatus, number> & { total: number };

/** Counts of result rows per status. */
export function summarize(results: Iterable<ResultRow>): ResultSummary {
  const summary: ResultSummary = { total: 0, ok: 0, skipped: 0, failed: 0, planned: 0 };
  for (const r of results) {
    summary.total++;
    summary[r.status]++;
  }
  return summary;
}

/**
 * Every item's result row: the one an earlier stage gave it, or the one its outcome makes; with
 * `redeemUrls`, an invited guest's redeem URL too (the journal never keeps it: see journal.ts).
 */
export function withResults(
  options: { redeemUrls?: boolean } = {},
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return (s) =>
    s.map((msg) => {
      if (msg.kind !== 'row' || msg.result || !msg.outcome) return msg;
      const result = resultFor(msg.row, msg.outcome, objectKeyOf(msg.row, msg.request?.body));
      if (options.redeemUrls && msg.outcome.redeemUrl) result.inviteRedeemUrl = msg.outcome.redeemUrl;
      return { ...msg, result };
    });
}

/** What a fulfill run did, counted by the results sink as it writes. */
export interface FulfillTally extends Record<ResultStatus, number> {
  /** Groups created (or planned) without owners: Graph makes such groups hard to manage. */
  groupsWithoutOwners: number;
}

export interface ResultsSink {
  /** objectMode; takes the reverse stream's items, writes their results in input order. */
  writable: Writable;
  /** Live counts (progress reads them during the run). */
  readonly tally: FulfillTally;
}

/**
 * The end of the reverse stream: result rows written in input order (Graph answers out of order), one
 * per input row, moving the input window as they go. A `failure` message fails the pipeline once every
 * result before it is written.
 */
export function createResultsSink(options: {
  results: ResultsWriter;
  window: InputWindow;
  /** Called with each row and its result as it is counted (the run's `--summary`). */
  onResult?: (row: CommandRow, result: ResultRow) => void;
}): ResultsSink {
  const { results, window } = options;
  const tally: FulfillTally = { ok: 0, skipped: 0, failed: 0, planned: 0, groupsWithoutOwners: 0 };
  const ready = new Map<number, ResultRow>();
  let failure: Error | undefined;
  const flush = async () => {
    while (ready.has(window.next)) {
      const row = ready.get(window.next)!;
      ready.delete(window.next);
      await results.write(row);
      window.advance();
    }
  };
  const writable = new Writable({
    objectMode: true,
    write(msg: FulfillMsg, _encoding, callback) {
      if (msg.kind === 'failure') {
        failure ??= msg.error;
        return callback();
      }
      const result =
        msg.result ??
        resultFor(msg.row, msg.outcome ?? { status: 'failed' }, objectKeyOf(msg.row, msg.request?.body));
      tally[result.status]++;
      options.onResult?.(msg.row, result);
      if (msg.request?.warning && (result.status === 'planned' || msg.outcome?.httpStatus === 201))
        tally.groupsWithoutOwners++;
      ready.set(msg.seq, result);
      flush().then(() => callback(), callback);
    },
    final(callback) {
      (async () => {
        // Only rows dropped after a fatal error leave gaps: what came after them is written in order.
        for (const seq of [...ready.keys()].sort((a, b) => a - b)) {
          await results.write(ready.get(seq)!);
          ready.delete(seq);
        }
        await results.end();
      })().then(
        () => callback(failure),
        (error: Error) => callback(failure ?? error),
      );
    },
  });
  return { writable, tally };
}
