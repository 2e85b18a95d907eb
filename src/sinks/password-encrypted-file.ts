import { open, readFile, stat, type FileHandle } from 'node:fs/promises';
import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { decryptValue, encryptValue, type DecryptionKey } from '../credentials/envelope.js';
import type { EncryptionCertificate } from '../credentials/encryption-certificate.js';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { GeneratedPassword } from '../streams/to-request.js';
import type { PasswordSink } from './password-file.js';

/**
 * The password file of {@link openPasswordFile}, with each password encrypted for the
 * `EncryptionCertificate`: `userPrincipalName,password,state,file,line` where `password` is an
 * `enc:v1:` value bound to `password:<userPrincipalName>` (so a password cannot be moved to another
 * row undetected). Only the private key's holder reads them: `entra protect decrypt --file F`.
 */

const HEADER = 'userPrincipalName,password,state,file,line';

/** The key a password is bound to in the envelope. */
export function passwordBinding(userPrincipalName: string): string {
  return `password:${userPrincipalName}`;
}

type Entry = [upn: string, password: string, state: string, file: string, line: string];

/** Passwords still `pending` in an existing file (ciphertexts), by lower-cased userPrincipalName. */
function pendingIn(text: string, fail: (why: string) => never): Map<string, Entry> {
  const pending = new Map<string, Entry>();
  if (text === '') return pending;
  if (text.split(/\r?\n/, 1)[0] !== HEADER)
    fail(`not a password file (its first line is not ${HEADER}): name a new file`);
  let rows: string[][];
  try {
    // A crash can tear the last line: keep what parses.
    rows = parse(text, { from_line: 2, relax_column_count: true, skip_empty_lines: true });
  } catch {
    rows = [];
  }
  for (const row of rows) {
    if (row.length !== 5) continue;
    const [upn, , state, file, line] = row as Entry;
    const key = upn.toLowerCase();
    const earlier = pending.get(key);
    // Every row holds a fresh ciphertext: a pending row is settled by a later row of the same input row.
    if (state === 'pending') pending.set(key, row as Entry);
    else if (earlier?.[3] === file && earlier[4] === line) pending.delete(key);
  }
  return pending;
}

/**
 * Opens (or creates, mode 0600) an encrypted password file for appending. Only the certificate is
 * needed: settling a password an earlier run left `pending` copies its ciphertext as it is. An
 * existing file readable by other users, or with another header, is refused.
 * @example const sink = await openEncryptedPasswordFile('passwords.csv', await loadEncryptionCertificate(layers));
 */
export async function openEncryptedPasswordFile(
  path: string,
  certificate: Pick<EncryptionCertificate, 'certificatePem'>,
): Promise<PasswordSink> {
  const fail = (why: string, cause?: unknown): never => {
    throw new UsageError('ERR_PASSWORD_FILE', `password file ${path}: ${why}`, cause ? { cause } : {});
  };
  let text = '';
  try {
    const s = await stat(path);
    if ((s.mode & 0o077) !== 0)
      fail(
        `readable by other users (mode ${(s.mode & 0o777).toString(8)}); run chmod 600 ${path}, or name a new file`,
      );
    if (s.isFile()) text = await readFile(path, 'utf8');
  } catch (e) {
    if (e instanceof UsageError) throw e;
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT') fail(`cannot read: ${code ?? String(e)}`, e);
  }
  const earlier = pendingIn(text, fail);
  let handle: FileHandle;
  try {
    handle = await open(path, 'a', 0o600);
  } catch (e) {
    return fail(`cannot open: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, e);
  }
  if (text === '') await handle.appendFile(`${HEADER}\n`);
  else if (!text.endsWith('\n')) await handle.appendFile('\n');
  const append = async (rows: Entry[]) => {
    if (!rows.length) return;
    await handle.appendFile(stringify(rows, { record_delimiter: '\n' }));
    await handle.datasync();
  };
  const entry = (e: GeneratedPassword, state: string): Entry => [
    e.userPrincipalName,
    encryptValue(e.password, certificate.certificatePem, { key: passwordBinding(e.userPrincipalName) }),
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
      const [u, ciphertext, , file, line] = found;
      await append([[u, ciphertext, state, file, line]]);
      return true;
    },
    close: () => handle.close(),
  };
}

/**
 * Decrypts the text of an encrypted password file: the same CSV with clear passwords. Errors name
 * `origin:line`. Empty password cells stay empty.
 */
export function decryptPasswordCsv(text: string, key: DecryptionKey, origin: string): string {
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, { columns: true, info: true, skip_empty_lines: true, bom: true });
  } catch (error) {
    throw new UsageError('ERR_CSV', `${origin}: ${(error as Error).message}`, { cause: error });
  }
  const columns = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/, 1)[0]!
    .split(',');
  if (!columns.includes('userPrincipalName') || !columns.includes('password'))
    throw new UsageError(
      'ERR_CSV',
      `${origin}: not a password file (no userPrincipalName and password columns)`,
    );
  const rows = records.map(({ record, info }) => {
    const value = record.password ?? '';
    if (value === '') return record;
    const password = decryptValue(value, key, {
      key: passwordBinding(record.userPrincipalName ?? ''),
      label: `${origin}:${info.lines} (${record.userPrincipalName})`,
    });
    registerSecret(password);
    return { ...record, password };
  });
  return stringify(rows, { header: true, columns, record_delimiter: '\n' });
}
