import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';
import { UsageError } from '../errors.js';

/**
 * The envelope of an encrypted value (a setting, a generated password), version 1:
 *
 *   `enc:v1:` + base64( flags(1) | thumbprint(32) | n(2, big-endian) | wrappedKey(n) | iv(12) | tag(16) | ciphertext )
 *
 * - a fresh random AES-256-GCM key per value, wrapped with RSA-OAEP (SHA-256, MGF1-SHA-256) for the
 *   certificate's public key, so values of any length work and only the private key opens them;
 * - `thumbprint`: SHA-256 of the certificate's DER, so a value encrypted for another certificate is
 *   named as such before any decryption is tried;
 * - `flags` bit 0: the value is bound to a key (a setting's flat key, compared ignoring case, or
 *   `password:<userPrincipalName>`); the key is part of the GCM additional data, so a bound value
 *   moved to another key fails to decrypt. Unbound values (`entra protect value` without `--key`) are
 *   accepted anywhere: binding is recommended, not required.
 * - the GCM additional data is `enc:v1:` + every byte before the IV + (bound ? 0x00 + lower-cased key
 *   : nothing), so no header byte can be changed undetected.
 */

export const ENVELOPE_PREFIX = 'enc:v1:';
const VERSIONED = /^enc:v([^:]*):/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const FLAG_BOUND = 1;
const THUMBPRINT_BYTES = 32;
const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const OAEP = { padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' } as const;

/** What names and binds a value: the setting key, or a label for messages only. */
export interface EnvelopeContext {
  /** Binds the value to this key (e.g. `Connections:Contoso:ApplicationKey`, ignoring case); errors name it. */
  key?: string;
  /** How errors name the value when it is not bound, e.g. `passwords.csv:3` or `value 2`. */
  label?: string;
}

/** The private half, and the certificate's thumbprint when known (to name a wrong certificate). */
export interface DecryptionKey {
  privateKey: KeyObject;
  /** Lower-case hex SHA-256 of the certificate's DER. */
  thumbprintSha256?: string;
}

/** True for any `enc:v<N>:` value (known version or not: an unknown one must fail loudly, not pass as plain). */
export function isEncrypted(value: string): boolean {
  return VERSIONED.test(value.trim());
}

interface PublicCertificate {
  publicKey: KeyObject;
  thumbprint: Buffer;
}

let lastCertificate: { pem: string; parsed: PublicCertificate } | undefined;

function publicCertificate(certificatePem: string): PublicCertificate {
  if (lastCertificate?.pem === certificatePem) return lastCertificate.parsed;
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(certificatePem);
  } catch (error) {
    throw new UsageError('ERR_CERTIFICATE', 'the encryption certificate is not a PEM X.509 certificate', {
      cause: error,
    });
  }
  if (x509.publicKey.asymmetricKeyType !== 'rsa')
    throw new UsageError(
      'ERR_CERTIFICATE',
      `the encryption certificate has a ${x509.publicKey.asymmetricKeyType ?? 'non-RSA'} key: an RSA key is needed (RSA-OAEP)`,
    );
  const parsed = { publicKey: x509.publicKey, thumbprint: createHash('sha256').update(x509.raw).digest() };
  lastCertificate = { pem: certificatePem, parsed };
  return parsed;
}

function additionalData(header: Buffer, key: string | undefined): Buffer {
  const parts = [Buffer.from(ENVELOPE_PREFIX), header];
  if (key !== undefined) parts.push(Buffer.from([0]), Buffer.from(key.toLowerCase(), 'utf8'));
  return Buffer.concat(parts);
}

/**
 * Encrypts `plaintext` for the certificate (PEM): only the holder of its private key can decrypt.
 * Every call gives a different ciphertext.
 * @example encryptValue(secret, cert.certificatePem, { key: 'Connections:Contoso:ApplicationKey' })
 */
export function encryptValue(
  plaintext: string,
  certificatePem: string,
  context: EnvelopeContext = {},
): string {
  const { publicKey, thumbprint } = publicCertificate(certificatePem);
  const contentKey = randomBytes(KEY_BYTES);
  try {
    const wrapped = publicEncrypt({ key: publicKey, ...OAEP }, contentKey);
    const length = Buffer.alloc(2);
    length.writeUInt16BE(wrapped.length);
    const flags = Buffer.from([context.key === undefined ? 0 : FLAG_BOUND]);
    const header = Buffer.concat([flags, thumbprint, length, wrapped]);
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', contentKey, iv);
    cipher.setAAD(additionalData(header, context.key));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return ENVELOPE_PREFIX + Buffer.concat([header, iv, tag, ciphertext]).toString('base64');
  } finally {
    contentKey.fill(0);
  }
}

/**
 * Decrypts an `enc:v1:` value. Fails with `UsageError('ERR_DECRYPT')` naming the value (its key or
 * label) and the reason: not encrypted, unknown version, malformed, encrypted for another certificate,
 * bound to a key not given, or altered (GCM authentication failed). The plaintext is never in a message.
 * @example decryptValue(value, { privateKey, thumbprintSha256 }, { key: 'MailSettings:Password' })
 */
export function decryptValue(
  ciphertext: string,
  decryptionKey: DecryptionKey | KeyObject,
  context: EnvelopeContext = {},
): string {
  const { privateKey, thumbprintSha256 } =
    'privateKey' in decryptionKey
      ? decryptionKey
      : { privateKey: decryptionKey, thumbprintSha256: undefined };
  const name = context.label ?? context.key ?? 'value';
  const fail = (why: string, cause?: unknown): never => {
    throw new UsageError('ERR_DECRYPT', `${name}: cannot decrypt: ${why}`, cause ? { cause } : {});
  };
  const text = ciphertext.trim();
  const version = VERSIONED.exec(text);
  if (!version) return fail(`not an encrypted value (expected ${ENVELOPE_PREFIX}...)`);
  if (version[1] !== '1')
    return fail(`unknown format enc:v${version[1]}: this version of entra reads ${ENVELOPE_PREFIX} only`);
  const body = text.slice(ENVELOPE_PREFIX.length);
  if (!BASE64.test(body)) return fail('malformed value (not base64)');
  const bytes = Buffer.from(body, 'base64');
  const fixed = 1 + THUMBPRINT_BYTES + 2;
  const wrappedLength = bytes.length >= fixed ? bytes.readUInt16BE(fixed - 2) : 0;
  const headerLength = fixed + wrappedLength;
  if (bytes.length < headerLength + IV_BYTES + TAG_BYTES || wrappedLength === 0)
    return fail('malformed value (truncated)');
  const flags = bytes[0]!;
  if ((flags & ~FLAG_BOUND) !== 0) return fail(`malformed value (unknown flags ${flags})`);
  const thumbprint = bytes.subarray(1, 1 + THUMBPRINT_BYTES).toString('hex');
  if (thumbprintSha256 !== undefined && thumbprint !== thumbprintSha256.toLowerCase())
    return fail(
      `encrypted for certificate ${thumbprint} (SHA-256 thumbprint), not for the certificate given (${thumbprintSha256.toLowerCase()})`,
    );
  const bound = (flags & FLAG_BOUND) !== 0;
  if (bound && context.key === undefined)
    return fail('the value is bound to a setting key: give that key (--key)');
  if (privateKey.type !== 'private' || privateKey.asymmetricKeyType !== 'rsa')
    return fail('the decryption key is not an RSA private key');
  let contentKey: Buffer;
  try {
    contentKey = privateDecrypt({ key: privateKey, ...OAEP }, bytes.subarray(fixed, headerLength));
  } catch (error) {
    return fail(
      thumbprintSha256 === undefined
        ? `the private key does not open it (encrypted for certificate ${thumbprint}), or the value was altered`
        : 'the value was altered (its wrapped key does not decrypt)',
      error,
    );
  }
  try {
    if (contentKey.length !== KEY_BYTES) return fail('the value was altered (wrong content key length)');
    const iv = bytes.subarray(headerLength, headerLength + IV_BYTES);
    const tag = bytes.subarray(headerLength + IV_BYTES, headerLength + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', contentKey, iv);
    decipher.setAAD(additionalData(bytes.subarray(0, headerLength), bound ? context.key : undefined));
    decipher.setAuthTag(tag);
    const plain = decipher.update(bytes.subarray(headerLength + IV_BYTES + TAG_BYTES));
    try {
      decipher.final();
    } catch (error) {
      plain.fill(0);
      return fail(
        bound
          ? 'authentication failed: the value was altered, or it was encrypted for another key than this one'
          : 'authentication failed: the value was altered',
        error,
      );
    }
    try {
      return new TextDecoder('utf-8', { fatal: true }).decode(plain);
    } catch (error) {
      return fail('the decrypted value is not UTF-8 text', error);
    } finally {
      plain.fill(0);
    }
  } finally {
    contentKey.fill(0);
  }
}
