import { X509Certificate, createHash, generateKeyPairSync, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

/**
 * A throw-away certificate authority for the emulator's HTTPS endpoint and for test certificates.
 * RSA keys come from node:crypto (native, fast); node-forge only builds and signs the X.509 structures.
 */

/** A certificate and its private key, both PEM (the key is PKCS#8, `BEGIN PRIVATE KEY`). */
export interface CertificateAndKey {
  certPem: string;
  keyPem: string;
}

export interface CertificateAuthority {
  /** The CA certificate to trust (`NODE_EXTRA_CA_CERTS`, or the connector's `ca` option). */
  caPem: string;
  /** A server certificate for `127.0.0.1` and `localhost` (always) plus `hosts`, signed by this CA. */
  issueServerCertificate(options?: { hosts?: string[]; days?: number }): CertificateAndKey;
  /** A client certificate (extendedKeyUsage clientAuth) signed by this CA, for mutual TLS. */
  issueClientCertificate(options: { commonName: string; days?: number }): CertificateAndKey;
}

export interface CertificateAuthorityOptions {
  /** Subject CN of the CA; default `entra-connector emulator CA`. */
  commonName?: string;
  /** Validity of the CA certificate in days; default 3650. */
  days?: number;
  /** RSA modulus length of every key this CA makes; default 2048. */
  keyBits?: number;
}

/** What an app registration's certificate credential looks like, with its thumbprints. */
export interface SelfSignedCertificate extends CertificateAndKey {
  /** Hex SHA-1 of the DER certificate (what the Azure portal shows as "Thumbprint"). */
  thumbprintSha1: string;
  /** Hex SHA-256 of the DER certificate (msal-node's `thumbprintSha256`). */
  thumbprintSha256: string;
  /** The certificate and key as a PKCS#12 (PFX) file protected by `password`. */
  toPfx(password: string): Buffer;
}

const DAY_MS = 86_400_000;

interface KeyPair {
  publicKey: forge.pki.rsa.PublicKey;
  privateKey: forge.pki.rsa.PrivateKey;
  keyPem: string;
}

function generateKeyPair(bits: number): KeyPair {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: bits,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  return {
    publicKey: forge.pki.publicKeyFromPem(publicKey),
    privateKey: forge.pki.privateKeyFromPem(privateKey),
    keyPem: privateKey,
  };
}

function randomSerial(): string {
  const bytes = randomBytes(16);
  // A DER INTEGER with the high bit set would be negative, which strict verifiers reject.
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString('hex');
}

interface CertSpec {
  subjectCn: string;
  issuer: forge.pki.CertificateField[];
  publicKey: forge.pki.rsa.PublicKey;
  signingKey: forge.pki.rsa.PrivateKey;
  days: number;
  extensions: object[];
}

function buildCertificate(spec: CertSpec): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.publicKey = spec.publicKey;
  cert.serialNumber = randomSerial();
  // Back-date by an hour so that a slightly slow clock on either side does not reject a fresh cert.
  const now = Date.now();
  cert.validity.notBefore = new Date(now - 3_600_000);
  cert.validity.notAfter = new Date(now + spec.days * DAY_MS);
  cert.setSubject([{ name: 'commonName', value: spec.subjectCn }]);
  cert.setIssuer(spec.issuer);
  cert.setExtensions([...spec.extensions, { name: 'subjectKeyIdentifier' }]);
  cert.sign(spec.signingKey, forge.md.sha256.create());
  return cert;
}

/**
 * Creates a fresh RSA certificate authority (new keys on every call).
 * @example
 * const ca = createCertificateAuthority();
 * const { certPem, keyPem } = ca.issueServerCertificate();
 * https.createServer({ cert: certPem, key: keyPem }, handler);   // clients trust ca.caPem
 */
export function createCertificateAuthority(options: CertificateAuthorityOptions = {}): CertificateAuthority {
  const bits = options.keyBits ?? 2048;
  const caKeys = generateKeyPair(bits);
  const caSubject = [{ name: 'commonName', value: options.commonName ?? 'entra-connector emulator CA' }];
  const caCert = buildCertificate({
    subjectCn: caSubject[0]!.value,
    issuer: caSubject,
    publicKey: caKeys.publicKey,
    signingKey: caKeys.privateKey,
    days: options.days ?? 3650,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    ],
  });
  const caKeyId = caCert.generateSubjectKeyIdentifier().getBytes();

  function issue(commonName: string, days: number, extensions: object[]): CertificateAndKey {
    const keys = generateKeyPair(bits);
    const cert = buildCertificate({
      subjectCn: commonName,
      issuer: caCert.subject.attributes,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      days,
      extensions: [
        { name: 'basicConstraints', cA: false },
        { name: 'authorityKeyIdentifier', keyIdentifier: caKeyId },
        ...extensions,
      ],
    });
    return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.keyPem };
  }

  return {
    caPem: forge.pki.certificateToPem(caCert),
    issueServerCertificate({ hosts = [], days = 365 } = {}) {
      const names = [...new Set(['127.0.0.1', 'localhost', ...hosts])];
      const altNames = names.map((host) => (isIP(host) ? { type: 7, ip: host } : { type: 2, value: host }));
      return issue(names.includes('localhost') ? 'localhost' : names[0]!, days, [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', serverAuth: true },
        { name: 'subjectAltName', altNames },
      ]);
    },
    issueClientCertificate({ commonName, days = 365 }) {
      return issue(commonName, days, [
        { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
        { name: 'extKeyUsage', clientAuth: true },
      ]);
    },
  };
}

/**
 * Creates a self-signed certificate like the ones uploaded to an app registration as a credential.
 * @example
 * const cert = generateSelfSignedCertificate({ commonName: 'entra-connector' });
 * fs.writeFileSync('app.pfx', cert.toPfx('pa55'));
 */
export function generateSelfSignedCertificate(options: {
  commonName: string;
  days?: number;
  keyBits?: number;
}): SelfSignedCertificate {
  const keys = generateKeyPair(options.keyBits ?? 2048);
  const subject = [{ name: 'commonName', value: options.commonName }];
  const cert = buildCertificate({
    subjectCn: options.commonName,
    issuer: subject,
    publicKey: keys.publicKey,
    signingKey: keys.privateKey,
    days: options.days ?? 365,
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  const certPem = forge.pki.certificateToPem(cert);
  return {
    certPem,
    keyPem: keys.keyPem,
    thumbprintSha1: thumbprintSha1(certPem),
    thumbprintSha256: thumbprintSha256(certPem),
    toPfx(password) {
      const asn1 = forge.pkcs12.toPkcs12Asn1(keys.privateKey, cert, password, {
        algorithm: '3des',
        friendlyName: options.commonName,
      });
      return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
    },
  };
}

function thumbprint(certPem: string, algorithm: 'sha1' | 'sha256'): string {
  return createHash(algorithm).update(new X509Certificate(certPem).raw).digest('hex');
}

/** Lower-case hex SHA-256 of the certificate's DER encoding. */
export function thumbprintSha256(certPem: string): string {
  return thumbprint(certPem, 'sha256');
}

/** Lower-case hex SHA-1 of the certificate's DER encoding (the legacy `x5t` thumbprint). */
export function thumbprintSha1(certPem: string): string {
  return thumbprint(certPem, 'sha1');
}
