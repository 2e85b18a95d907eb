import { createHash, createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import forge from 'node-forge';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { SettingsLayer } from '../types.js';

/**
 * The `EncryptionCertificate` settings section: the RSA certificate that protects encrypted settings
 * and generated passwords (DESIGN.md §2, credentials issue).
 *
 * | key | meaning |
 * |---|---|
 * | `File` | a PFX/PKCS#12 file (certificate + private key), or a PEM file holding the certificate and, for decrypting, its private key |
 * | `KeyFile` | optional: the private key as a separate PEM file, when `File` is a certificate-only PEM |
 * | `Password` | the PFX password, or the passphrase of an encrypted PEM private key |
 *
 * The format is told from the content (`-----BEGIN` → PEM, else PKCS#12), not the extension.
 * Relative paths are taken from the folder of the settings file (`baseDir`), so a scheduled run
 * does not depend on its working directory. Encrypting needs the certificate only: whoever protects
 * values can be given a certificate-only PEM.
 */

const SECTION = 'EncryptionCertificate';
const SECTION_KEYS = ['File', 'KeyFile', 'Password'] as const;
const MIN_RSA_BITS = 2048;

export interface EncryptionCertificate {
  certificatePem: string;
  /** Lower-case hex SHA-256 of the certificate's DER. */
  thumbprintSha256: string;
  /** Present when the file(s) held the matching private key. */
  privateKey?: KeyObject;
  /** The file(s) it came from, for messages. */
  source: string;
}

/** A certificate with its private key: what decrypting needs. */
export interface DecryptionCertificate extends EncryptionCertificate {
  privateKey: KeyObject;
}

export interface CertificateFileOptions {
  /** PFX password, or passphrase of an encrypted PEM private key. */
  password?: string;
  /** A separate PEM private key. */
  keyFile?: string;
  /** Fail unless the private key is there (decrypting). */
  requirePrivateKey?: boolean;
  /** Where the options came from, named in errors (e.g. `EncryptionCertificate:File in appsettings.agent.json`). */
  from?: string;
  /** The setting that holds the password, named in errors; default `Password`. */
  passwordSetting?: string;
  /** What the private key is needed for, named in errors; default `decrypting`. */
  purpose?: string;
}

/** The `EncryptionCertificate` section as written, paths resolved. */
export interface EncryptionCertificateSettings {
  file: string;
  keyFile?: string;
  password?: string;
  /** Origin of `File` (a settings file or 'environment'). */
  origin: string;
}

/**
 * Reads the `EncryptionCertificate` section from settings layers (later layers win, keys ignore case);
 * undefined when the section is absent. Unknown keys in the section are a usage error.
 */
export function encryptionCertificateSettings(
  layers: SettingsLayer[],
  options: { baseDir?: string } = {},
): EncryptionCertificateSettings | undefined {
  const prefix = `${SECTION.toLowerCase()}:`;
  const found = new Map<string, { value: string; origin: string }>();
  for (const layer of layers)
    for (const [key, value] of layer.values) {
      if (!key.toLowerCase().startsWith(prefix)) continue;
      const short = key.slice(prefix.length);
      const known = SECTION_KEYS.find((k) => k.toLowerCase() === short.toLowerCase());
      if (!known)
        throw new UsageError(
          'ERR_SETTINGS',
          `${layer.origin}: unknown key ${SECTION}:${short} (known: ${SECTION_KEYS.join(', ')})`,
        );
      found.set(known, { value, origin: layer.origin });
    }
  if (found.size === 0) return undefined;
  const file = found.get('File');
  if (!file?.value)
    throw new UsageError(
      'ERR_SETTINGS',
      `${SECTION}:File is missing in ${[...found.values()][0]!.origin}: name a PFX or PEM file`,
    );
  const base = options.baseDir ?? '.';
  const settings: EncryptionCertificateSettings = { file: resolve(base, file.value), origin: file.origin };
  const keyFile = found.get('KeyFile')?.value;
  if (keyFile) settings.keyFile = resolve(base, keyFile);
  const password = found.get('Password')?.value;
  if (password) {
    registerSecret(password);
    settings.password = password;
  }
  return settings;
}

/**
 * Loads the `EncryptionCertificate` named by the settings; undefined when there is no such section.
 * @example const cert = await loadEncryptionCertificate(layers, { baseDir: dirname(settingsFile), requirePrivateKey: true });
 */
export async function loadEncryptionCertificate(
  layers: SettingsLayer[],
  options: { baseDir?: string; requirePrivateKey: true },
): Promise<DecryptionCertificate | undefined>;
export async function loadEncryptionCertificate(
  layers: SettingsLayer[],
  options?: { baseDir?: string; requirePrivateKey?: boolean },
): Promise<EncryptionCertificate | undefined>;
export async function loadEncryptionCertificate(
  layers: SettingsLayer[],
  options: { baseDir?: string; requirePrivateKey?: boolean } = {},
): Promise<EncryptionCertificate | undefined> {
  const settings = encryptionCertificateSettings(layers, options);
  if (!settings) return undefined;
  return readCertificateFile(settings.file, {
    ...(settings.password !== undefined ? { password: settings.password } : {}),
    ...(settings.keyFile !== undefined ? { keyFile: settings.keyFile } : {}),
    requirePrivateKey: options.requirePrivateKey ?? false,
    from: `${SECTION}:File in ${settings.origin}`,
  });
}

/**
 * Reads a certificate (and its private key, when there) from a PFX or PEM file, with clear errors for
 * a missing file, a wrong password, a missing key and a key that does not match the certificate.
 */
export async function readCertificateFile(
  path: string,
  options: CertificateFileOptions & { requirePrivateKey: true },
): Promise<DecryptionCertificate>;
export async function readCertificateFile(
  path: string,
  options?: CertificateFileOptions,
): Promise<EncryptionCertificate>;
export async function readCertificateFile(
  path: string,
  options: CertificateFileOptions = {},
): Promise<EncryptionCertificate> {
  const where = options.from ? `${path} (${options.from})` : path;
  const fail = (why: string, cause?: unknown): never => {
    throw new UsageError('ERR_CERTIFICATE', `certificate ${where}: ${why}`, cause ? { cause } : {});
  };
  registerSecret(options.password);
  const passwordSetting = options.passwordSetting ?? 'Password';
  const bytes = await readOrFail(path, where);
  let certificatePem: string;
  let privateKey: KeyObject | undefined;
  if (bytes.includes('-----BEGIN')) {
    const text = bytes.toString('utf8');
    certificatePem =
      pemBlocks(text, /CERTIFICATE/)[0] ?? fail('no "BEGIN CERTIFICATE" block in this PEM file');
    const keyPem = pemBlocks(text, /PRIVATE KEY/)[0];
    if (keyPem) privateKey = pemPrivateKey(keyPem, options.password, fail, passwordSetting);
  } else {
    ({ certificatePem, privateKey } = readPfx(bytes, options.password, fail, passwordSetting));
  }
  if (options.keyFile) {
    if (privateKey) fail(`it already holds a private key; remove KeyFile ${options.keyFile}`);
    const keyText = (await readOrFail(options.keyFile, `${options.keyFile} (private key)`)).toString('utf8');
    const keyPem =
      pemBlocks(keyText, /PRIVATE KEY/)[0] ?? fail(`no "BEGIN PRIVATE KEY" block in ${options.keyFile}`);
    privateKey = pemPrivateKey(keyPem, options.password, fail, passwordSetting);
  }
  const x509 = new X509Certificate(certificatePem);
  const publicKey = x509.publicKey;
  if (publicKey.asymmetricKeyType !== 'rsa')
    fail(
      `the key is ${publicKey.asymmetricKeyType ?? 'not RSA'}: an RSA certificate is needed (${options.purpose ?? 'RSA-OAEP'})`,
    );
  const bits = publicKey.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) fail(`the RSA key has ${bits} bits: at least ${MIN_RSA_BITS} are needed`);
  if (privateKey && !x509.checkPrivateKey(privateKey)) fail('the private key does not match the certificate');
  if (!privateKey && options.requirePrivateKey)
    fail(
      options.purpose
        ? `no private key: ${options.purpose} needs a PFX with its key, or a PEM holding the certificate and its key`
        : 'no private key: decrypting needs a PFX with its key, a PEM holding the certificate and its key, or a separate key file',
    );
  const certificate: EncryptionCertificate = {
    certificatePem,
    thumbprintSha256: createHash('sha256').update(x509.raw).digest('hex'),
    source: options.keyFile ? `${path} + ${options.keyFile}` : path,
  };
  if (privateKey) certificate.privateKey = privateKey;
  return certificate;
}

async function readOrFail(path: string, where: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new UsageError(
      'ERR_CERTIFICATE',
      code === 'ENOENT'
        ? `certificate file not found: ${where}`
        : `cannot read ${where}: ${code ?? String(error)}`,
      { cause: error },
    );
  }
}

function pemBlocks(text: string, label: RegExp): string[] {
  const blocks = text.match(/-----BEGIN ([A-Z0-9 ]+)-----[\s\S]*?-----END \1-----/g) ?? [];
  return blocks.filter((b) => label.test(/^-----BEGIN ([A-Z0-9 ]+)-----/.exec(b)![1]!)).map((b) => `${b}\n`);
}

function pemPrivateKey(
  pem: string,
  password: string | undefined,
  fail: (why: string, cause?: unknown) => never,
  passwordSetting: string,
) {
  const encrypted = /^-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/m.test(pem);
  if (encrypted && !password)
    return fail(`the private key is encrypted: give its passphrase as the ${passwordSetting}`);
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase: password } : pem);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return fail(
      encrypted
        ? `cannot decrypt the private key: wrong password (${passwordSetting})`
        : `unreadable private key (${code ?? 'invalid PEM'})`,
      error,
    );
  }
}

function readPfx(
  bytes: Buffer,
  password: string | undefined,
  fail: (why: string, cause?: unknown) => never,
  passwordSetting: string,
): { certificatePem: string; privateKey?: KeyObject } {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    const asn1 = forge.asn1.fromDer(forge.util.createBuffer(bytes.toString('binary')));
    p12 = forge.pkcs12.pkcs12FromAsn1(asn1, false, password ?? '');
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (/MAC could not be verified|Invalid password/i.test(message))
      return fail(
        password
          ? `wrong PFX password (${passwordSetting})`
          : `the PFX is password-protected: give its ${passwordSetting}`,
        error,
      );
    if (/not RSA/i.test(message)) return fail('not an RSA certificate (RSA-OAEP needs RSA)', error);
    return fail('neither a PEM file nor a readable PFX (PKCS#12) file', error);
  }
  const bags = (type: string) => p12.getBags({ bagType: type })[type] ?? [];
  const keyBag = [...bags(forge.pki.oids.pkcs8ShroudedKeyBag!), ...bags(forge.pki.oids.keyBag!)].find(
    (b) => b.key,
  );
  const certificates = bags(forge.pki.oids.certBag!)
    .map((b) => b.cert)
    .filter((c): c is forge.pki.Certificate => c !== undefined)
    .map((c) => forge.pki.certificateToPem(c));
  if (certificates.length === 0) return fail('the PFX holds no certificate');
  if (!keyBag?.key) return { certificatePem: certificates[0]! };
  // DER through a Buffer we can wipe, rather than a PEM string left to the garbage collector.
  const der = Buffer.from(
    forge.asn1.toDer(forge.pki.wrapRsaPrivateKey(forge.pki.privateKeyToAsn1(keyBag.key))).getBytes(),
    'binary',
  );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  } finally {
    der.fill(0);
  }
  // A PFX may carry the chain: the certificate is the one whose key is in the file.
  const certificatePem =
    certificates.find((pem) => new X509Certificate(pem).checkPrivateKey(privateKey)) ??
    fail('the PFX holds no certificate matching its private key');
  return { certificatePem, privateKey };
}
