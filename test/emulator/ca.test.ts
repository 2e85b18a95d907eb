import { X509Certificate, createPrivateKey } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import forge from 'node-forge';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  createCertificateAuthority,
  generateSelfSignedCertificate,
  thumbprintSha1,
  thumbprintSha256,
} from '../../src/emulator/ca.js';

const SERVER_AUTH = '1.3.6.1.5.5.7.3.1';
const CLIENT_AUTH = '1.3.6.1.5.5.7.3.2';

function get(url: string, ca?: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get(url, { ...(ca ? { ca } : {}), agent: false }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

const CreateCertificateAuthority = suite('createCertificateAuthority');
const ca = createCertificateAuthority();
const caCert = new X509Certificate(ca.caPem);

CreateCertificateAuthority('createCertificateAuthority() makes a CA certificate', () => {
  assert.ok(caCert.ca);
  assert.ok(caCert.verify(caCert.publicKey), 'self-signed');
});

CreateCertificateAuthority('createCertificateAuthority() makes a fresh CA on each call', () => {
  const other = createCertificateAuthority();
  other.issueServerCertificate();
  assert.is.not(other.caPem, ca.caPem);
});

CreateCertificateAuthority(
  'issueServerCertificate() is signed by the CA, for 127.0.0.1 and localhost',
  () => {
    const { certPem, keyPem } = ca.issueServerCertificate();
    const cert = new X509Certificate(certPem);
    assert.ok(cert.checkIssued(caCert));
    assert.ok(cert.verify(caCert.publicKey));
    assert.not.ok(cert.ca);
    assert.ok(cert.checkIP('127.0.0.1'));
    assert.ok(cert.checkHost('localhost'));
    assert.ok(cert.keyUsage?.includes(SERVER_AUTH));
    assert.match(keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(cert.checkPrivateKey(createPrivateKey(keyPem)));
  },
);

CreateCertificateAuthority('issueServerCertificate({hosts}) adds names to the defaults', () => {
  const cert = new X509Certificate(ca.issueServerCertificate({ hosts: ['emulator.test', '::1'] }).certPem);
  assert.ok(cert.checkHost('emulator.test'));
  assert.ok(cert.checkIP('::1'));
  assert.ok(cert.checkIP('127.0.0.1'));
});

CreateCertificateAuthority(
  'issueServerCertificate() serves HTTPS on 127.0.0.1 trusted only through the CA',
  async () => {
    const { certPem, keyPem } = ca.issueServerCertificate();
    const server = https.createServer({ cert: certPem, key: keyPem }, (_req, res) => res.end('hello'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    try {
      const ok = await get(url, ca.caPem);
      assert.equal(ok, { status: 200, body: 'hello' });
      const error = await get(url).then(
        () => undefined,
        (e: NodeJS.ErrnoException) => e,
      );
      assert.ok(error, 'Node must not trust the emulator CA by default');
      assert.match(String(error?.code), /CERT|SIGNATURE/);
      const withRoots = await get(url, [...tls.rootCertificates, ca.caPem].join('\n'));
      assert.is(withRoots.status, 200);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  },
);

CreateCertificateAuthority('issueClientCertificate() makes a clientAuth certificate signed by the CA', () => {
  const { certPem } = ca.issueClientCertificate({ commonName: 'connector' });
  const cert = new X509Certificate(certPem);
  assert.ok(cert.verify(caCert.publicKey));
  assert.match(cert.subject, /CN=connector/);
  assert.ok(cert.keyUsage?.includes(CLIENT_AUTH));
});

CreateCertificateAuthority.run();

// ---

const GenerateSelfSignedCertificate = suite('generateSelfSignedCertificate');
const appCert = generateSelfSignedCertificate({ commonName: 'entra-connector test', days: 30 });

GenerateSelfSignedCertificate(
  'generateSelfSignedCertificate() returns a self-signed cert, a PKCS#8 key and thumbprints',
  () => {
    const cert = new X509Certificate(appCert.certPem);
    assert.ok(cert.verify(cert.publicKey));
    assert.match(cert.subject, /CN=entra-connector test/);
    assert.match(appCert.keyPem, /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(cert.checkPrivateKey(createPrivateKey(appCert.keyPem)));
    assert.is(appCert.thumbprintSha1, cert.fingerprint.replaceAll(':', '').toLowerCase());
    assert.is(appCert.thumbprintSha256, cert.fingerprint256.replaceAll(':', '').toLowerCase());
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    assert.ok(days > 29 && days <= 30, `valid for ${days} days`);
  },
);

GenerateSelfSignedCertificate('toPfx(password) round-trips through node-forge', () => {
  const pfx = appCert.toPfx('s3cret!');
  const p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), 's3cret!');
  const certBag = p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!]?.[0];
  const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[
    forge.pki.oids.pkcs8ShroudedKeyBag!
  ]?.[0];
  assert.ok(certBag?.cert && keyBag?.key);
  assert.is(forge.pki.certificateToPem(certBag.cert).trim(), appCert.certPem.trim());
  const keyPem = forge.pki.privateKeyToPem(keyBag.key);
  assert.ok(new X509Certificate(appCert.certPem).checkPrivateKey(createPrivateKey(keyPem)));
  assert.throws(() => forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), 'wrong'));
});

GenerateSelfSignedCertificate('toPfx(password) loads in Node (tls.createSecureContext)', () => {
  const context = tls.createSecureContext({ pfx: appCert.toPfx('pw'), passphrase: 'pw' });
  assert.ok(context);
});

GenerateSelfSignedCertificate.run();

// ---

const Thumbprints = suite('thumbprintSha256');

Thumbprints('thumbprintSha256(pem) / thumbprintSha1(pem) are the hex digests of the DER certificate', () => {
  const cert = new X509Certificate(ca.caPem);
  assert.is(thumbprintSha256(ca.caPem), cert.fingerprint256.replaceAll(':', '').toLowerCase());
  assert.is(thumbprintSha1(ca.caPem), cert.fingerprint.replaceAll(':', '').toLowerCase());
  assert.match(thumbprintSha256(ca.caPem), /^[0-9a-f]{64}$/);
});

Thumbprints.run();
