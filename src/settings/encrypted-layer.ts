import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import {
  decryptValue,
  encryptValue,
  ENVELOPE_PREFIX,
  isEncrypted,
  type DecryptionKey,
} from '../credentials/envelope.js';
import type { EncryptionCertificate } from '../credentials/encryption-certificate.js';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { flattenJson, parseJsonText, type SettingsLayer } from './settings.js';

/**
 * `appsettings.encrypted.agent.json`: a sibling of the plain settings file whose values are encrypted
 * for the `EncryptionCertificate` (see credentials/envelope.ts) and override the plain ones key by key.
 *
 * Rules (checked when read):
 * - every string value must be an `enc:v1:` value: a plain string there is an error naming its key, so
 *   a secret never sits in clear in a file everyone believes encrypted (numbers, booleans and null are
 *   not secrets and are taken as they are, as `entra protect file` leaves them);
 * - values are bound to their flat key (`Connections:Contoso:ApplicationKey`, ignoring case) when
 *   `entra protect file` or `entra protect value --key` made them; unbound values are accepted;
 * - no `EncryptionCertificate` section: it is what opens this file, so it belongs in the plain file.
 *
 * Layers, in precedence order: plain file, this file, environment.
 */

export const ENCRYPTED_SETTINGS_FILE = 'appsettings.encrypted.agent.json';
const CERTIFICATE_SECTION = 'encryptioncertificate';

/** The encrypted file that goes with a plain settings file: same folder, fixed name. */
export function encryptedSettingsPath(plainSettingsPath: string): string {
  return join(dirname(plainSettingsPath), ENCRYPTED_SETTINGS_FILE);
}

/**
 * Reads the sibling `appsettings.encrypted.agent.json` of `plainSettingsPath` into a layer (origin:
 * its path), every value decrypted and registered as a secret; undefined when there is no such file.
 * @example const layers = [plain, ...[await readEncryptedSettings(file, cert)].filter(Boolean), env];
 */
export async function readEncryptedSettings(
  plainSettingsPath: string,
  certificate: EncryptionCertificate | undefined,
): Promise<SettingsLayer | undefined> {
  const path = encryptedSettingsPath(plainSettingsPath);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return undefined;
    throw new UsageError('ERR_SETTINGS', `cannot read ${path}: ${code ?? String(error)}`, { cause: error });
  }
  if (!certificate)
    throw new UsageError(
      'ERR_SETTINGS',
      `${path} holds encrypted settings but ${plainSettingsPath} has no EncryptionCertificate section to decrypt them (EncryptionCertificate:File, :Password)`,
    );
  if (!certificate.privateKey)
    throw new UsageError(
      'ERR_SETTINGS',
      `${path}: the EncryptionCertificate (${certificate.source}) has no private key: decrypting settings needs it`,
    );
  const json = parseJsonText(text, path, 'ERR_SETTINGS');
  return decryptSettingsJson(
    json,
    { privateKey: certificate.privateKey, thumbprintSha256: certificate.thumbprintSha256 },
    path,
  );
}

/** Decrypts a parsed encrypted settings document into a layer (see the module rules). */
export function decryptSettingsJson(json: unknown, key: DecryptionKey, origin: string): SettingsLayer {
  return flattenJson(decryptSettingsDocument(json, key, origin), origin);
}

/**
 * A copy of a parsed encrypted settings document with every value decrypted (and registered as a
 * secret), checked against the module rules: what `entra protect decrypt --file` prints.
 */
export function decryptSettingsDocument(json: unknown, key: DecryptionKey, origin: string): unknown {
  if (json === null || typeof json !== 'object' || Array.isArray(json)) return flattenJson(json, origin);
  const section = Object.keys(json).find((k) => k.toLowerCase() === CERTIFICATE_SECTION);
  if (section)
    throw new UsageError(
      'ERR_SETTINGS',
      `${origin}: remove the ${section} section: the certificate that decrypts this file must be named in the plain settings file`,
    );
  return mapStrings(json, (path, value) => {
    if (!isEncrypted(value))
      throw new UsageError(
        'ERR_SETTINGS',
        `${origin}: ${path} is not encrypted: this file holds only ${ENVELOPE_PREFIX} values (encrypt it with \`entra protect file\`, or move it to the plain settings file)`,
      );
    const plain = decryptValue(value, key, { key: path, label: `${path} in ${origin}` });
    registerSecret(plain);
    return plain;
  });
}

/** What {@link encryptSettingsJson} did. */
export interface EncryptedDocument {
  json: unknown;
  /** Flat keys of the values encrypted now. */
  encrypted: string[];
  /** Flat keys of values that were already encrypted, kept as they were. */
  alreadyEncrypted: string[];
  /** Top-level sections left out (`EncryptionCertificate`). */
  dropped: string[];
}

/**
 * Encrypts every string value of a parsed settings document for the certificate, each bound to its
 * flat key; values already encrypted are kept; the `EncryptionCertificate` section is left out.
 */
export function encryptSettingsJson(json: unknown, certificatePem: string): EncryptedDocument {
  const result: EncryptedDocument = { json, encrypted: [], alreadyEncrypted: [], dropped: [] };
  let source = json;
  if (json !== null && typeof json === 'object' && !Array.isArray(json)) {
    const entries = Object.entries(json);
    result.dropped = entries.map(([k]) => k).filter((k) => k.toLowerCase() === CERTIFICATE_SECTION);
    source = Object.fromEntries(entries.filter(([k]) => k.toLowerCase() !== CERTIFICATE_SECTION));
  }
  result.json = mapStrings(source, (path, value) => {
    if (isEncrypted(value)) {
      result.alreadyEncrypted.push(path);
      return value;
    }
    result.encrypted.push(path);
    return encryptValue(value, certificatePem, { key: path });
  });
  return result;
}

/** A copy of `json` with every string replaced by `fn(flatKey, string)`; flat keys as `flattenJson` makes them. */
function mapStrings(json: unknown, fn: (path: string, value: string) => string, path = ''): unknown {
  if (typeof json === 'string') return fn(path, json);
  if (json === null || typeof json !== 'object') return json;
  const child = (key: string) => (path ? `${path}:${key}` : key);
  if (Array.isArray(json)) return json.map((v, i) => mapStrings(v, fn, child(String(i))));
  return Object.fromEntries(Object.entries(json).map(([k, v]) => [k, mapStrings(v, fn, child(k))]));
}
