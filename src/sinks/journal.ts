import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, truncate, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { UsageError } from '../errors.js';
import type { ResultRow } from '../types.js';

/**
 * The fulfill journal (`--journal F`, DESIGN §4): an append-only NDJSON file that lets a rerun after a crash
 * skip finished rows and never create an object twice.
 *
 * Lines: a header `{"type":"journal","version":1,"inputs":[{file,fingerprint}]}`, then
 * `{"type":"started",file,line,objectKey}` written (and fsynced) before a create is sent, and
 * `{"type":"done",result}` after each row. Writes are group-committed: every entry recorded while an fsync
 * runs goes out with the next one, and each promise resolves once its entry is on disk.
 *
 * A crash between "Graph applied it" and "journal written" makes the rerun send that row again, which is
 * safe in effect: a create with a `started` entry is looked up first (by userPrincipalName/mailNickname, by
 * the command), a PATCH is idempotent, and a repeated delete or link add/remove comes back `skipped`.
 */

export interface JournalInput {
  file: string;
  /** e.g. {@link fingerprintFile}: a journal is valid only for the content it was made for. */
  fingerprint: string;
}

export interface StartedEntry {
  file: string;
  line: number;
  /** The request's objectKey, to look the object up on a rerun. */
  objectKey?: string;
}

export interface Journal {
  /** The recorded result of a finished row: ok and skipped rows, and failed ones when retryFailed is false. */
  isDone(file: string, line: number): ResultRow | undefined;
  /** The `started` entry of a create that has no ok/skipped result: the object may or may not exist in Graph. */
  wasStarted(file: string, line: number): StartedEntry | undefined;
  recordStarted(entry: StartedEntry): Promise<void>;
  /** `planned` results (dry runs) are not recorded: a dry run finishes nothing. */
  recordDone(result: ResultRow): Promise<void>;
  close(): Promise<void>;
}

export interface JournalOptions {
  /** Send failed rows again on a rerun (default true): their failure may have been transient. */
  retryFailed?: boolean;
}

const VERSION = 1;
const key = (file: string, line: number) => `${file}\n${line}`;
const journalError = (path: string, detail: string) =>
  new UsageError('ERR_JOURNAL', `journal ${path}: ${detail}`);

/** `sha256:<hex>` of a file's bytes. */
export async function fingerprintFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest('hex')}`;
}

/**
 * Reads the complete entries of a journal. `validBytes` ends after the last good one: a torn or unparsable
 * tail (a crash mid-write) is cut, while a bad line followed by good ones is corruption.
 */
async function load(
  path: string,
): Promise<{ entries: Record<string, unknown>[]; validBytes: number } | undefined> {
  const entries: Record<string, unknown>[] = [];
  let offset = 0;
  let badFrom: number | undefined;
  let rest = Buffer.alloc(0);
  let head = '';
  try {
    for await (const chunk of createReadStream(path)) {
      if (head === '') head = (chunk as Buffer).subarray(0, 32).toString('utf8');
      rest = Buffer.concat([rest, chunk as Buffer]);
      for (let nl = rest.indexOf(10); nl >= 0; nl = rest.indexOf(10)) {
        const text = rest.subarray(0, nl).toString('utf8');
        rest = rest.subarray(nl + 1);
        const entry = parseEntry(text);
        if (entry && badFrom !== undefined) throw journalError(path, `corrupt entry at byte ${badFrom}`);
        if (entry) entries.push(entry);
        else badFrom ??= offset;
        offset += nl + 1;
      }
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  // Without one good entry, only the torn start of our own header may be cut: never some other file.
  if (entries.length === 0 && head !== '' && !'{"type":"journal"'.startsWith(head.slice(0, 17)))
    throw journalError(path, 'not a journal file');
  return { entries, validBytes: badFrom ?? offset };
}

function parseEntry(text: string): Record<string, unknown> | undefined {
  try {
    const entry: unknown = JSON.parse(text);
    return entry && typeof entry === 'object' && !Array.isArray(entry)
      ? (entry as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

function checkInputs(path: string, header: Record<string, unknown>, inputs: JournalInput[]): void {
  if (header.type !== 'journal' || header.version !== VERSION) throw journalError(path, 'not a journal file');
  const made = new Map((header.inputs as JournalInput[]).map((i) => [i.file, i.fingerprint]));
  const now = new Map(inputs.map((i) => [i.file, i.fingerprint]));
  const changed = inputs
    .filter((i) => made.has(i.file) && made.get(i.file) !== i.fingerprint)
    .map((i) => i.file);
  if (changed.length > 0)
    throw journalError(
      path,
      `made for other content of ${changed.join(', ')}: use a new journal for new input`,
    );
  if (made.size !== now.size || [...made.keys()].some((f) => !now.has(f)))
    throw journalError(
      path,
      `made for ${[...made.keys()].join(', ')}, not for ${[...now.keys()].join(', ')}`,
    );
}

async function syncDirectory(path: string): Promise<void> {
  // Makes the new file's name durable; some platforms cannot open a directory, which is fine to skip.
  const dir = await open(dirname(path), 'r').catch(() => undefined);
  await dir?.sync().catch(() => undefined);
  await dir?.close();
}

/**
 * Opens or creates the journal at `path` for `inputs`. A journal made for other inputs or other content
 * is a `ERR_JOURNAL` usage error, never silently reused; a torn last line (crash mid-write) is dropped.
 */
export async function openJournal(
  path: string,
  inputs: JournalInput[],
  options: JournalOptions = {},
): Promise<Journal> {
  const retryFailed = options.retryFailed ?? true;
  const done = new Map<string, ResultRow>();
  const started = new Map<string, StartedEntry>();
  const loaded = await load(path);
  const [header, ...entries] = loaded?.entries ?? [];
  if (header) checkInputs(path, header, inputs);
  for (const e of entries) {
    if (e.type === 'started') {
      const { file, line, objectKey } = e as unknown as StartedEntry;
      started.set(key(file, line), objectKey === undefined ? { file, line } : { file, line, objectKey });
    } else if (e.type === 'done') {
      const r = e.result as ResultRow;
      done.set(key(r.file, r.line), r);
    }
  }
  if (loaded && !header) await truncate(path, 0);
  else if (loaded) await truncate(path, loaded.validBytes);

  const handle: FileHandle = await open(path, 'a', 0o600);
  let pending: string[] = [];
  let waiters: { resolve: () => void; reject: (e: unknown) => void }[] = [];
  let flushing: Promise<void> | undefined;
  let failure: Error | undefined;
  let closed = false;

  const flush = async () => {
    // Let every entry recorded in this turn of the event loop join the first write.
    await new Promise((resolve) => setImmediate(resolve));
    while (pending.length > 0) {
      const [lines, ws] = [pending, waiters];
      [pending, waiters] = [[], []];
      try {
        await handle.write(lines.join(''));
        await handle.datasync();
        for (const w of ws) w.resolve();
      } catch (error) {
        failure = error as Error;
        for (const w of [...ws, ...waiters]) w.reject(error);
        [pending, waiters] = [[], []];
      }
    }
    flushing = undefined;
  };

  const append = (entry: object): Promise<void> => {
    if (closed) return Promise.reject(new Error('journal is closed'));
    if (failure) return Promise.reject(failure);
    pending.push(`${JSON.stringify(entry)}\n`);
    const written = new Promise<void>((resolve, reject) => waiters.push({ resolve, reject }));
    flushing ??= flush();
    return written;
  };

  if (!header) {
    await append({ type: 'journal', version: VERSION, inputs });
    await syncDirectory(path);
  }

  const isDone = (file: string, line: number) => {
    const r = done.get(key(file, line));
    return r && (r.status !== 'failed' || !retryFailed) ? r : undefined;
  };

  return {
    isDone,
    wasStarted: (file, line) => (isDone(file, line) ? undefined : started.get(key(file, line))),
    recordStarted(entry) {
      started.set(key(entry.file, entry.line), entry);
      return append({ type: 'started', ...entry });
    },
    recordDone(full) {
      if (full.status === 'planned') return Promise.resolve();
      // A redeem URL is a credential: it goes to the protected results only, never to the journal.
      const { inviteRedeemUrl: _secret, ...result } = full;
      done.set(key(result.file, result.line), result);
      return append({ type: 'done', result });
    },
    async close() {
      if (closed) return;
      while (flushing) await flushing;
      closed = true;
      await handle.close();
    },
  };
}
