import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { GeneratedPassword } from '../streams/to-request.js';

/**
 * A protected sink for the initial passwords of created users. A password is recorded `pending`
 * (and synced to disk) before its create is sent, then `created` or `discarded`: a crash between
 * Graph creating the user and us hearing about it never loses the password of a user that exists.
 * A password whose fate stays unknown (the answer was lost) stays `pending`; a rerun with the
 * journal settles it once it has looked the user up.
 */
export interface PasswordSink {
  /** Durably records passwords about to be sent. */
  prepare(entries: GeneratedPassword[]): Promise<void>;
  /** The user was created with this password. */
  confirm(entry: GeneratedPassword): Promise<void>;
  /** This password was never set on a user (not sent, refused, or the user already existed). */
  discard(entry: GeneratedPassword): Promise<void>;
  /**
   * Settles the password an earlier run left `pending` for this user: `created` when a lookup found
   * the user, `discarded` when it did not. False when the sink holds no such password (a sink that
   * keeps nothing between runs has nothing to settle).
   */
  settleEarlier(userPrincipalName: string, state: 'created' | 'discarded'): Promise<boolean>;
  close(): Promise<void>;
}

const HEADER = 'userPrincipalName,password,state,file,line\n';

type Entry = [upn: string, password: string, state: string, file: string, line: string];

/** Passwords still `pending` in an existing file, by lower-cased userPrincipalName (the latest wins). */
function pendingIn(text: string, path: string): Map<string, Entry> {
  const pending = new Map<string, Entry>();
  if (text === '') return pending;
  if (!text.startsWith(HEADER))
    throw new UsageError(
      'ERR_PASSWORD_FILE',
      `${path} is not a password file (its first line is not ${HEADER.trim()}): name a new file`,
    );
  let rows: string[][];
  try {
    // A crash can tear the last line: keep what parses.
    const parsed: unknown = parse(text, { from_line: 2, relax_column_count: true, skip_empty_lines: true });
    rows = parsed as string[][];
  } catch {
    rows = [];
  }
  for (const row of rows) {
    if (row.length !== 5) continue;
    const [upn, password, state, file, line] = row as Entry;
    registerSecret(password);
    const key = upn.toLowerCase();
    const earlier = pending.get(key);
    // A pending row is settled by a later row of the same input row (an encrypted cell differs each time).
    if (state === 'pending') pending.set(key, row as Entry);
    else if (earlier?.[3] === file && earlier[4] === line) pending.delete(key);
  }
  return pending;
}

/**
 * Opens (or creates, mode 0600) a password CSV file `userPrincipalName,password,state,file,line`.
 * An existing file readable by other users, or one that is not a password file, is refused.
 */
export function openPasswordFile(path: string): Promise<PasswordSink> {
  return openPasswordCsv(path, (e) => e.password);
}

/**
 * The password file with each password cell made by `cell` (the clear password, or its ciphertext for
 * the encrypted file). Settling a password an earlier run left `pending` copies that run's cell as is.
 */
export async function openPasswordCsv(
  path: string,
  cell: (entry: GeneratedPassword) => string,
): Promise<PasswordSink> {
  let text = '';
  try {
    const s = await stat(path);
    if ((s.mode & 0o077) !== 0)
      throw new UsageError(
        'ERR_PASSWORD_FILE',
        `password file ${path} is readable by other users (mode ${(s.mode & 0o777).toString(8)}); run chmod 600 ${path}, or name a new file`,
      );
    if (s.isFile()) text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
      if (e instanceof UsageError) throw e;
      throw new UsageError(
        'ERR_PASSWORD_FILE',
        `cannot read password file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
        { cause: e },
      );
    }
  }
  const earlier = pendingIn(text, path);
  let handle: FileHandle;
  try {
    handle = await open(path, 'a', 0o600);
  } catch (e) {
    throw new UsageError(
      'ERR_PASSWORD_FILE',
      `cannot open password file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      { cause: e },
    );
  }
  if (text === '') await handle.appendFile(HEADER);
  else if (!text.endsWith('\n')) await handle.appendFile('\n');
  const append = async (rows: Entry[]) => {
    if (!rows.length) return;
    await handle.appendFile(stringify(rows, { record_delimiter: '\n' }));
    await handle.datasync();
  };
  const entry = (e: GeneratedPassword, state: string): Entry => [
    e.userPrincipalName,
    cell(e),
    state,
    e.file,
    String(e.line),
  ];
  return {
    prepare: (entries) => {
      for (const e of entries) registerSecret(e.password);
      return append(entries.map((e) => entry(e, 'pending')));
    },
    confirm: (e) => append([entry(e, 'created')]),
    discard: (e) => append([entry(e, 'discarded')]),
    async settleEarlier(upn, state) {
      const found = earlier.get(upn.toLowerCase());
      if (!found) return false;
      earlier.delete(upn.toLowerCase());
      const [u, password, , file, line] = found;
      await append([[u, password, state, file, line]]);
      return true;
    },
    close: () => handle.close(),
  };
}
