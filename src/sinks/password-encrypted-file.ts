import { parse } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { decryptValue, encryptValue, type DecryptionKey } from '../credentials/envelope.js';
import type { EncryptionCertificate } from '../credentials/encryption-certificate.js';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { openPasswordCsv, type PasswordSink } from './password-file.js';

/**
 * The password file of {@link openPasswordFile}, with each password encrypted for the
 * `EncryptionCertificate`: `userPrincipalName,password,state,file,line` where `password` is an
 * `enc:v1:` value bound to `password:<userPrincipalName>` (so a password cannot be moved to another
 * row undetected). Only the private key's holder reads them: `entra protect decrypt --file F`.
 */

/** The key a password is bound to in the envelope. */
export function passwordBinding(userPrincipalName: string): string {
  return `password:${userPrincipalName}`;
}

/**
 * Opens (or creates, mode 0600) an encrypted password file for appending. Only the certificate is
 * needed: settling a password an earlier run left `pending` copies its ciphertext as it is. An
 * existing file readable by other users, or with another header, is refused.
 * @example const sink = await openEncryptedPasswordFile('passwords.csv', await loadEncryptionCertificate(layers));
 */
export function openEncryptedPasswordFile(
  path: string,
  certificate: Pick<EncryptionCertificate, 'certificatePem'>,
): Promise<PasswordSink> {
  return openPasswordCsv(path, (e) =>
    encryptValue(e.password, certificate.certificatePem, { key: passwordBinding(e.userPrincipalName) }),
  );
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
