import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isSecretKey, warnIfExposed } from '../../src/settings/permissions-check.js';
import type { SettingsLayer } from '../../src/settings/settings.js';

const SECRET = 'a-client-secret-value';

async function withFile(mode: number, fn: (path: string) => Promise<void>, name = 'appsettings.agent.json') {
  const dir = await mkdtemp(join(tmpdir(), 'perm-'));
  try {
    const path = join(dir, name);
    await writeFile(path, '{}');
    await chmod(path, mode);
    await fn(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function layerOf(values: Record<string, string>, origin = 'appsettings.agent.json'): SettingsLayer {
  return { origin, values: new Map(Object.entries(values)) };
}

function logger() {
  const lines: string[] = [];
  return { lines, warn: (m: string) => lines.push(m) };
}

const Warn = suite('warnIfExposed');

Warn(
  'warnIfExposed(path, layer) warns once for a world-readable file with plain secrets, naming file, keys and chmod',
  () =>
    withFile(0o644, async (path) => {
      const log = logger();
      const keys = await warnIfExposed(
        path,
        layerOf({
          'Connections:Contoso:ApplicationKey': SECRET,
          'Connections:Contoso:TenantId': 'contoso.onmicrosoft.com',
          'EncryptionCertificate:Password': 'pfx-password',
          'MailSettings:Password': '',
        }),
        log,
      );
      assert.equal(keys, ['Connections:Contoso:ApplicationKey', 'EncryptionCertificate:Password']);
      assert.is(log.lines.length, 1);
      const line = log.lines[0]!;
      assert.ok(
        line.startsWith(
          `${path} holds secrets in clear (Connections:Contoso:ApplicationKey, EncryptionCertificate:Password)`,
        ),
      );
      assert.match(line, /readable by every user \(mode 644\)/);
      assert.ok(line.includes(`chmod 600 ${path}`));
      assert.not.ok(line.includes(SECRET));
    }),
);

Warn('warnIfExposed(path, layer) says "its group" for mode 640', () =>
  withFile(0o640, async (path) => {
    const log = logger();
    await warnIfExposed(path, layerOf({ 'MailSettings:Password': SECRET }), log);
    assert.match(
      log.lines[0]!,
      /holds a secret in clear \(MailSettings:Password\) and is readable by its group/,
    );
  }),
);

Warn('warnIfExposed(path, layer) quotes a path with spaces for the shell', () =>
  withFile(
    0o644,
    async (path) => {
      const log = logger();
      await warnIfExposed(path, layerOf({ 'Connections:C:CertificatePassword': SECRET }), log);
      assert.ok(log.lines[0]!.includes(`chmod 600 '${path}'`));
    },
    'my settings.json',
  ),
);

Warn('warnIfExposed(path, layer) is silent for mode 600, for encrypted values, and without secrets', () =>
  withFile(0o600, async (path) => {
    const log = logger();
    assert.equal(await warnIfExposed(path, layerOf({ 'Connections:C:ApplicationKey': SECRET }), log), []);
    await chmod(path, 0o644);
    assert.equal(
      await warnIfExposed(path, layerOf({ 'Connections:C:ApplicationKey': 'enc:v1:AAAA' }), log),
      [],
    );
    assert.equal(await warnIfExposed(path, layerOf({ 'Connections:C:TenantId': 'contoso.com' }), log), []);
    assert.equal(log.lines, []);
  }),
);

Warn('warnIfExposed(path, layer) does nothing on Windows (ACLs, not mode bits)', () =>
  withFile(0o644, async (path) => {
    const log = logger();
    const keys = await warnIfExposed(path, layerOf({ 'Connections:C:ApplicationKey': SECRET }), log, {
      platform: 'win32',
    });
    assert.equal(keys, []);
    assert.equal(log.lines, []);
  }),
);

Warn.run();

// ---

const Keys = suite('isSecretKey');

Keys('isSecretKey(key) knows the secret keys by their last segment', () => {
  for (const key of [
    'Connections:C:ApplicationKey',
    'Connections:C:CertificatePassword',
    'EncryptionCertificate:Password',
    'MailSettings:Password',
    'KeyVault:ClientSecret',
  ])
    assert.ok(isSecretKey(key), key);
  for (const key of [
    'Connections:C:ApplicationId',
    'Connections:C:CertificateThumbprint',
    'MailSettings:Host',
    'Password:Host',
  ])
    assert.not.ok(isSecretKey(key), key);
});

Keys.run();
