import { createPrivateKey } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { DecryptionCertificate } from '../../src/credentials/encryption-certificate.js';
import { encryptValue, isEncrypted } from '../../src/credentials/envelope.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { redact } from '../../src/redact.js';
import {
  encryptedSettingsPath,
  encryptSettingsJson,
  readEncryptedSettings,
} from '../../src/settings/encrypted-layer.js';
import { readSettingsFile, resolveConnection } from '../../src/settings/settings.js';
import { failure } from '../helpers/common.js';

const generated = generateSelfSignedCertificate({ commonName: 'settings encryption' });
const certificate: DecryptionCertificate = {
  certificatePem: generated.certPem,
  thumbprintSha256: generated.thumbprintSha256,
  privateKey: createPrivateKey(generated.keyPem),
  source: 'test',
};
const SECRET = 'encrypted-client-secret-42';

const PLAIN = {
  Connections: {
    Contoso: {
      ApplicationId: '11111111-2222-3333-4444-555555555555',
      ApplicationKey: 'plain-client-secret',
      TenantId: 'contoso.onmicrosoft.com',
    },
  },
  EncryptionCertificate: { File: 'enc.pfx' },
};

async function withSettings(
  encrypted: unknown,
  fn: (plainPath: string, dir: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'enc-layer-'));
  try {
    const plainPath = join(dir, 'appsettings.agent.json');
    await writeFile(plainPath, JSON.stringify(PLAIN));
    if (encrypted !== undefined)
      await writeFile(
        join(dir, 'appsettings.encrypted.agent.json'),
        typeof encrypted === 'string' ? encrypted : JSON.stringify(encrypted),
      );
    await fn(plainPath, dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const Read = suite('readEncryptedSettings');

Read('readEncryptedSettings(plain, cert) overrides the plain file key by key through resolveConnection', () =>
  withSettings(
    encryptSettingsJson({ Connections: { Contoso: { ApplicationKey: SECRET } } }, certificate.certificatePem)
      .json,
    async (plainPath, dir) => {
      const plain = await readSettingsFile(plainPath);
      const encrypted = await readEncryptedSettings(plainPath, certificate);
      assert.ok(encrypted);
      assert.is(encrypted.origin, join(dir, 'appsettings.encrypted.agent.json'));
      const connection = resolveConnection([plain, encrypted]);
      assert.is(connection.applicationKey, SECRET);
      assert.is(connection.tenantId, 'contoso.onmicrosoft.com');
      assert.is(connection.origins.ApplicationKey, encrypted.origin);
      assert.is(connection.origins.TenantId, plainPath);
      assert.is(redact(`key=${SECRET}`), 'key=***');
    },
  ),
);

Read('readEncryptedSettings(plain, cert) takes numbers and booleans as they are, and unbound values', () =>
  withSettings(
    {
      connections: { contoso: { applicationkey: encryptValue(SECRET, certificate.certificatePem) } },
      MailSettings: { Port: 587, Flag: true },
    },
    async (plainPath) => {
      const layer = (await readEncryptedSettings(plainPath, certificate))!;
      assert.is(layer.values.get('connections:contoso:applicationkey'), SECRET);
      assert.is(layer.values.get('MailSettings:Port'), '587');
      assert.is(layer.values.get('MailSettings:Flag'), 'true');
    },
  ),
);

Read('readEncryptedSettings(plain) is undefined when there is no encrypted file', () =>
  withSettings(undefined, async (plainPath) => {
    assert.is(await readEncryptedSettings(plainPath, certificate), undefined);
    assert.is(await readEncryptedSettings(plainPath, undefined), undefined);
  }),
);

Read('readEncryptedSettings(plain, undefined) with an encrypted file asks for an EncryptionCertificate', () =>
  withSettings({}, async (plainPath) => {
    assert.match(
      await failure(readEncryptedSettings(plainPath, undefined), 'ERR_SETTINGS'),
      /no EncryptionCertificate/,
    );
    const { privateKey: _, ...certificateOnly } = certificate;
    assert.match(
      await failure(readEncryptedSettings(plainPath, certificateOnly), 'ERR_SETTINGS'),
      /has no private key/,
    );
  }),
);

Read('readEncryptedSettings(plain, cert) refuses a plain string, naming its key', () =>
  withSettings({ Connections: { Contoso: { ApplicationKey: 'oops-in-clear' } } }, async (plainPath) => {
    const message = await failure(readEncryptedSettings(plainPath, certificate), 'ERR_SETTINGS');
    assert.match(message, /Connections:Contoso:ApplicationKey is not encrypted/);
    assert.not.ok(message.includes('oops-in-clear'));
  }),
);

Read('readEncryptedSettings(plain, cert) names the key of a tampered value', () => {
  const value = encryptValue(SECRET, certificate.certificatePem, {
    key: 'Connections:Contoso:ApplicationKey',
  });
  const tampered = value.slice(0, -6) + (value.slice(-6, -5) === 'A' ? 'B' : 'A') + value.slice(-5);
  return withSettings({ Connections: { Contoso: { ApplicationKey: tampered } } }, async (plainPath) => {
    const message = await failure(readEncryptedSettings(plainPath, certificate), 'ERR_DECRYPT');
    assert.match(
      message,
      /^Connections:Contoso:ApplicationKey in .*appsettings\.encrypted\.agent\.json: cannot decrypt/,
    );
  });
});

Read('readEncryptedSettings(plain, cert) refuses a value moved from another key', () => {
  const value = encryptValue(SECRET, certificate.certificatePem, { key: 'MailSettings:Password' });
  return withSettings({ Connections: { Contoso: { ApplicationKey: value } } }, async (plainPath) => {
    const message = await failure(readEncryptedSettings(plainPath, certificate), 'ERR_DECRYPT');
    assert.match(message, /another key/);
  });
});

Read('readEncryptedSettings(plain, cert) refuses an EncryptionCertificate section', () =>
  withSettings({ EncryptionCertificate: {} }, async (plainPath) => {
    const message = await failure(readEncryptedSettings(plainPath, certificate), 'ERR_SETTINGS');
    assert.match(message, /remove the EncryptionCertificate section/);
  }),
);

Read('readEncryptedSettings(plain, cert) reports malformed JSON with its position', () =>
  withSettings('{ "a": ', async (plainPath) => {
    assert.match(
      await failure(readEncryptedSettings(plainPath, certificate), 'ERR_SETTINGS'),
      /:1:8: malformed JSON/,
    );
  }),
);

Read.run();

// ---

const Encrypt = suite('encryptSettingsJson');

Encrypt(
  'encryptSettingsJson(json) encrypts every string bound to its key, keeps other values, drops EncryptionCertificate',
  () => {
    const already = encryptValue('x', certificate.certificatePem);
    const result = encryptSettingsJson(
      {
        A: { B: 'one', C: 2, D: [true, 'two'], E: already, F: null },
        EncryptionCertificate: { File: 'f.pfx' },
      },
      certificate.certificatePem,
    );
    const json = result.json as { A: { B: string; C: number; D: [boolean, string]; E: string; F: null } };
    assert.ok(isEncrypted(json.A.B));
    assert.ok(isEncrypted(json.A.D[1]));
    assert.is(json.A.C, 2);
    assert.is(json.A.D[0], true);
    assert.is(json.A.E, already);
    assert.is(json.A.F, null);
    assert.equal(result.encrypted, ['A:B', 'A:D:1']);
    assert.equal(result.alreadyEncrypted, ['A:E']);
    assert.equal(result.dropped, ['EncryptionCertificate']);
    assert.not.ok('EncryptionCertificate' in (result.json as object));
  },
);

Encrypt.run();

// ---

const Path = suite('encryptedSettingsPath');

Path('encryptedSettingsPath(plain) is the sibling appsettings.encrypted.agent.json', () => {
  assert.is(encryptedSettingsPath('/etc/entra/prod.json'), '/etc/entra/appsettings.encrypted.agent.json');
});

Path.run();
