import {
  constants,
  createPrivateKey,
  createPublicKey,
  sign,
  verify,
  X509Certificate,
  type KeyObject,
} from 'node:crypto';

/**
 * Minimal JWS (compact JWT) helpers on node:crypto: enough to issue Entra-like access tokens and to
 * check the client assertions msal-node signs with jsonwebtoken (PS256, or RS256 with legacy `x5t`).
 */

export type JwtAlgorithm = 'RS256' | 'PS256';

export type JwtHeader = { alg?: unknown; typ?: unknown; kid?: unknown; x5t?: unknown } & Record<
  string,
  unknown
>;
export type JwtPayload = Record<string, unknown>;

/** A compact JWT split into its decoded parts; `signingInput` is `header.payload` as sent. */
export interface DecodedJwt {
  header: JwtHeader;
  payload: JwtPayload;
  signingInput: string;
  signature: Buffer;
}

/** Why a string is not a well-formed JWT; `reason` is safe to show (it never quotes the token). */
export class JwtError extends Error {
  readonly reason: string;
  constructor(reason: string) {
    super(`malformed JWT: ${reason}`);
    this.name = 'JwtError';
    this.reason = reason;
  }
}

const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** Encodes bytes (or a UTF-8 string) as unpadded base64url. */
export function base64url(input: Buffer | string): string {
  return Buffer.from(input).toString('base64url');
}

/** Decodes unpadded base64url strictly: any other character is an error (Buffer.from would skip it). */
export function base64urlDecode(input: string): Buffer {
  if (!BASE64URL.test(input) || input.length % 4 === 1) throw new JwtError('a part is not base64url');
  return Buffer.from(input, 'base64url');
}

function parseJsonObject(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(base64urlDecode(part).toString('utf8'));
  } catch (error) {
    if (error instanceof JwtError) throw new JwtError(`the ${what} is not base64url`);
    throw new JwtError(`the ${what} is not JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value))
    throw new JwtError(`the ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}

/** Splits and decodes a compact JWS; throws {@link JwtError} unless it has 3 parts with JSON objects. */
export function decodeJwt(token: string): DecodedJwt {
  const parts = token.split('.');
  if (parts.length !== 3) throw new JwtError(`expected 3 dot-separated parts, got ${parts.length}`);
  const [h, p, s] = parts as [string, string, string];
  if (!h || !p) throw new JwtError('empty header or payload');
  const header = parseJsonObject(h, 'header');
  const payload = parseJsonObject(p, 'payload');
  let signature: Buffer;
  try {
    signature = base64urlDecode(s);
  } catch {
    throw new JwtError('the signature is not base64url');
  }
  return { header, payload, signingInput: `${h}.${p}`, signature };
}

function signOptions(alg: JwtAlgorithm) {
  // jsonwebtoken (used by msal-node) signs PS256 with salt length = digest length (32 bytes).
  return alg === 'PS256'
    ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
    : { padding: constants.RSA_PKCS1_PADDING };
}

/**
 * Signs `payload` as a compact JWS. `header.alg` is set from `alg` (RS256 unless told otherwise).
 * @example
 * const token = signJwt({ typ: 'JWT', kid }, { aud: 'https://graph.microsoft.com' }, privateKeyPem);
 */
export function signJwt(
  header: JwtHeader,
  payload: JwtPayload,
  privateKey: KeyObject | string,
  alg: JwtAlgorithm = 'RS256',
): string {
  const signingInput = `${base64url(JSON.stringify({ ...header, alg }))}.${base64url(JSON.stringify(payload))}`;
  const key = typeof privateKey === 'string' ? createPrivateKey(privateKey) : privateKey;
  const signature = sign('sha256', Buffer.from(signingInput), { key, ...signOptions(alg) });
  return `${signingInput}.${base64url(signature)}`;
}

/** A public key from a KeyObject, a PEM public key or a PEM certificate. */
export function toPublicKey(key: KeyObject | string): KeyObject {
  if (typeof key !== 'string') return key.type === 'private' ? createPublicKey(key) : key;
  return key.includes('BEGIN CERTIFICATE') ? new X509Certificate(key).publicKey : createPublicKey(key);
}

/**
 * Checks the signature of a decoded JWS with RS256 or PS256 (from its header) against `key`
 * (public key, or certificate). Any other `alg`, including `none`, fails.
 */
export function verifyJwtSignature(jwt: DecodedJwt, key: KeyObject | string): boolean {
  const alg = jwt.header.alg;
  if (alg !== 'RS256' && alg !== 'PS256') return false;
  try {
    return verify(
      'sha256',
      Buffer.from(jwt.signingInput),
      { key: toPublicKey(key), ...signOptions(alg) },
      jwt.signature,
    );
  } catch {
    return false;
  }
}
