import { createPrivateKey } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import forge from 'node-forge';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  encryptionCertificateSettings,
  loadEncryptionCertificate,
  readCertificateFile,
} from '../../src/credentials/encryption-certificate.js';
import { decryptValue, encryptValue } from '../../src/credentials/envelope.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { redact } from '../../src/redact.js';
import type { SettingsLayer } from '../../src/settings/settings.js';
import { withDir } from '../helpers/common.js';

const cert = generateSelfSignedCertificate({ commonName: 'encryption' });
const other = generateSelfSignedCertificate({ commonName: 'other' });
const PFX_PASSWORD = 'pfx-Passw0rd!';

async function failure(promise: Promise<unknown>, code = 'ERR_CERTIFICATE'): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.is((error as { code?: string }).code, code, (error as Error).message);
    assert.is((error as { exitCode?: number }).exitCode, 2);
    return (error as Error).message;
  }
  throw new Error(`no ${code}`);
}

const layer = (
  values: Record<string, string>,
  origin = '/etc/entra/appsettings.agent.json',
): SettingsLayer => ({
  origin,
  values: new Map(Object.entries(values)),
});

const ReadFile = suite('readCertificateFile');

ReadFile(
  'readCertificateFile(pfx, { password }) gives the certificate, its key and its SHA-256 thumbprint',
  () =>
    withDir(async (dir) => {
      const path = join(dir, 'enc.pfx');
      await writeFile(path, cert.toPfx(PFX_PASSWORD));
      const loaded = await readCertificateFile(path, { password: PFX_PASSWORD, requirePrivateKey: true });
      assert.is(loaded.thumbprintSha256, cert.thumbprintSha256);
      assert.is(decryptValue(encryptValue('x', loaded.certificatePem), loaded), 'x');
    }),
);

ReadFile('readCertificateFile(pfx) reads an AES-256 (PBES2) PFX as OpenSSL 3 and Windows make them', () =>
  withDir(async (dir) => {
    const path = join(dir, 'aes.pfx');
    const asn1 = forge.pkcs12.toPkcs12Asn1(
      forge.pki.privateKeyFromPem(cert.keyPem),
      forge.pki.certificateFromPem(cert.certPem),
      PFX_PASSWORD,
      { algorithm: 'aes256' },
    );
    await writeFile(path, Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
    const loaded = await readCertificateFile(path, { password: PFX_PASSWORD, requirePrivateKey: true });
    assert.is(loaded.thumbprintSha256, cert.thumbprintSha256);
  }),
);

ReadFile('readCertificateFile(pfx) with a wrong password says so', () =>
  withDir(async (dir) => {
    const path = join(dir, 'enc.pfx');
    await writeFile(path, cert.toPfx(PFX_PASSWORD));
    const message = await failure(readCertificateFile(path, { password: 'wrong-password' }));
    assert.match(message, /enc\.pfx.*wrong PFX password/);
    assert.match(await failure(readCertificateFile(path)), /password-protected: give its Password/);
  }),
);

ReadFile('readCertificateFile(pfx without a key) serves encrypting, and refuses decrypting', () =>
  withDir(async (dir) => {
    const path = join(dir, 'cert-only.pfx');
    const asn1 = forge.pkcs12.toPkcs12Asn1(null, forge.pki.certificateFromPem(cert.certPem), PFX_PASSWORD, {
      algorithm: '3des',
    });
    await writeFile(path, Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary'));
    const loaded = await readCertificateFile(path, { password: PFX_PASSWORD });
    assert.is(loaded.privateKey, undefined);
    assert.is(loaded.thumbprintSha256, cert.thumbprintSha256);
    const message = await failure(
      readCertificateFile(path, { password: PFX_PASSWORD, requirePrivateKey: true }),
    );
    assert.match(message, /no private key/);
  }),
);

ReadFile('readCertificateFile(pem with certificate and key) gives both', () =>
  withDir(async (dir) => {
    const path = join(dir, 'enc.pem');
    await writeFile(path, cert.certPem + cert.keyPem);
    const loaded = await readCertificateFile(path, { requirePrivateKey: true });
    assert.is(loaded.thumbprintSha256, cert.thumbprintSha256);
    assert.ok(loaded.privateKey);
  }),
);

ReadFile('readCertificateFile(certificate-only pem) encrypts; with requirePrivateKey it fails', () =>
  withDir(async (dir) => {
    const path = join(dir, 'enc.crt');
    await writeFile(path, cert.certPem);
    const loaded = await readCertificateFile(path);
    assert.is(loaded.privateKey, undefined);
    assert.ok(encryptValue('x', loaded.certificatePem).startsWith('enc:v1:'));
    assert.match(await failure(readCertificateFile(path, { requirePrivateKey: true })), /no private key/);
  }),
);

ReadFile(
  'readCertificateFile(pem, { keyFile }) takes the key from its own file; a key of another certificate fails',
  () =>
    withDir(async (dir) => {
      const path = join(dir, 'enc.crt');
      await writeFile(path, cert.certPem);
      await writeFile(join(dir, 'enc.key'), cert.keyPem);
      await writeFile(join(dir, 'other.key'), other.keyPem);
      const loaded = await readCertificateFile(path, {
        keyFile: join(dir, 'enc.key'),
        requirePrivateKey: true,
      });
      assert.ok(loaded.privateKey);
      const message = await failure(readCertificateFile(path, { keyFile: join(dir, 'other.key') }));
      assert.match(message, /private key does not match the certificate/);
    }),
);

ReadFile('readCertificateFile(pem with an encrypted key) needs the right passphrase', () =>
  withDir(async (dir) => {
    const path = join(dir, 'enc.pem');
    const encryptedKey = createPrivateKey(cert.keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: PFX_PASSWORD,
    }) as string;
    await writeFile(path, cert.certPem + encryptedKey);
    assert.ok((await readCertificateFile(path, { password: PFX_PASSWORD })).privateKey);
    assert.match(await failure(readCertificateFile(path)), /encrypted: give its passphrase/);
    assert.match(await failure(readCertificateFile(path, { password: 'nope-nope' })), /wrong password/);
  }),
);

ReadFile('readCertificateFile(missing file) names it', async () => {
  const message = await failure(
    readCertificateFile('/nonexistent/enc.pfx', { from: 'EncryptionCertificate:File in x.json' }),
  );
  assert.match(
    message,
    /certificate file not found: \/nonexistent\/enc\.pfx \(EncryptionCertificate:File in x\.json\)/,
  );
});

ReadFile('readCertificateFile(garbage) says it is neither PEM nor PFX', () =>
  withDir(async (dir) => {
    await writeFile(join(dir, 'x.pfx'), 'not a certificate');
    assert.match(
      await failure(readCertificateFile(join(dir, 'x.pfx'))),
      /neither a PEM file nor a readable PFX/,
    );
  }),
);

ReadFile('readCertificateFile(a 1024-bit RSA certificate) is refused', () =>
  withDir(async (dir) => {
    const small = generateSelfSignedCertificate({ commonName: 'small', keyBits: 1024 });
    await writeFile(join(dir, 'small.pem'), small.certPem);
    assert.match(await failure(readCertificateFile(join(dir, 'small.pem'))), /1024 bits: at least 2048/);
  }),
);

ReadFile.run();

// ---

const Load = suite('loadEncryptionCertificate');

Load('loadEncryptionCertificate(layers) is undefined without an EncryptionCertificate section', async () => {
  assert.is(await loadEncryptionCertificate([layer({ 'Connections:C:ApplicationId': 'x' })]), undefined);
});

Load(
  'loadEncryptionCertificate(layers, { baseDir }) reads a relative PFX File with its Password, keys ignoring case',
  () =>
    withDir(async (dir) => {
      await writeFile(join(dir, 'enc.pfx'), cert.toPfx(PFX_PASSWORD));
      const loaded = await loadEncryptionCertificate(
        [layer({ 'encryptioncertificate:file': 'enc.pfx', 'EncryptionCertificate:PASSWORD': PFX_PASSWORD })],
        { baseDir: dir, requirePrivateKey: true },
      );
      assert.is(loaded?.thumbprintSha256, cert.thumbprintSha256);
      assert.is(redact(`password ${PFX_PASSWORD}`), 'password ***');
    }),
);

Load('loadEncryptionCertificate(layers) names the settings key in a file error', async () => {
  const message = await failure(
    loadEncryptionCertificate([layer({ 'EncryptionCertificate:File': '/nowhere/enc.pfx' })]),
  );
  assert.match(message, /EncryptionCertificate:File in \/etc\/entra\/appsettings\.agent\.json/);
});

Load.run();

// ---

const Section = suite('encryptionCertificateSettings');

Section('encryptionCertificateSettings(layers) takes a later layer over an earlier one', () => {
  const settings = encryptionCertificateSettings(
    [
      layer({ 'EncryptionCertificate:File': 'a.pem' }),
      layer({ 'EncryptionCertificate:File': 'b.pem' }, 'env'),
    ],
    { baseDir: '/x' },
  );
  assert.equal(settings, { file: '/x/b.pem', origin: 'env' });
});

Section('encryptionCertificateSettings(layers) refuses an unknown key and a missing File', () => {
  assert.throws(
    () => encryptionCertificateSettings([layer({ 'EncryptionCertificate:Path': 'a.pem' })]),
    /unknown key EncryptionCertificate:Path \(known: File, KeyFile, Password\)/,
  );
  assert.throws(
    () => encryptionCertificateSettings([layer({ 'EncryptionCertificate:Password': 'abcdefgh' })]),
    /EncryptionCertificate:File is missing/,
  );
});

Section.run();
