import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { doctorCommand } from '../../src/commands/doctor.js';
import { startEmulate, type EmulateArgs, type RunningEmulator } from '../../src/commands/emulate.js';
import { KEY_VAULT_NAME } from '../../src/commands/emulate-credentials.js';
import { settingsLayers } from '../../src/commands/connection.js';
import type { ExportArgs } from '../../src/commands/export.js';
import { protectCommand } from '../../src/commands/protect.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { redact } from '../../src/redact.js';
import { encryptSettingsJson } from '../../src/settings/encrypted-layer.js';
import { resolveConnection } from '../../src/settings/settings.js';
import { withEmulator } from '../helpers/emulator.js';
import { runExport, textSink, type RunResult } from '../helpers/export-harness.js';
import { testTls } from '../helpers/identity-server.js';
import { withProcessEnv } from '../helpers/common.js';

/**
 * Each credential kind and each vault kind, end to end: `entra emulate` flags serve and write them out,
 * `entra export` (in-process) signs in with them, and every wrong or missing piece is one clear line.
 */

interface Env {
  running: RunningEmulator;
  dir: string;
  settingsFile: string;
  caFile: string;
  /** `entra export --quiet` with this emulator's settings and CA, overridden by `args`. */
  run: (args?: Partial<ExportArgs>, env?: NodeJS.ProcessEnv) => Promise<RunResult>;
  /** `entra doctor` (stdout and exit code). */
  doctor: (args?: { setting?: string[] }, env?: NodeJS.ProcessEnv) => Promise<{ code: number; out: string }>;
}

/**
 * `entra emulate` with `flags` and `--settings-out`, in a temp folder (relative paths of the flags are
 * taken from it), for the duration of `fn`.
 */
async function withEmulate(flags: Partial<EmulateArgs>, fn: (e: Env) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'credentials-'));
  for (const key of ['certificateOut', 'federatedTokenOut', 'cyberark'] as const)
    if (flags[key] !== undefined) flags = { ...flags, [key]: join(dir, flags[key]) };
  const settingsFile = join(dir, 'appsettings.agent.json');
  const caFile = join(dir, 'ca.pem');
  let running: RunningEmulator | undefined;
  try {
    running = await startEmulate(
      { throttle: false, settingsOut: settingsFile, caOut: caFile, ...flags },
      { tls: testTls() },
    );
    const r = running;
    await fn({
      running: r,
      dir,
      settingsFile,
      caFile,
      run: (args = {}, env = {}) =>
        runExport(
          {
            settings: settingsFile,
            ca: caFile,
            output: join(dir, 'out'),
            cookies: join(dir, 'cookies'),
            ignoreCookies: true,
            quiet: true,
            ...args,
          },
          env,
        ),
      async doctor(args = {}, env = {}) {
        const out = textSink();
        const code = await doctorCommand(
          { settings: settingsFile, ca: caFile, quiet: true, entities: ['user'], ...args },
          env,
          out,
        );
        return { code, out: out.text };
      },
    });
  } finally {
    await running?.close();
    await rm(dir, { recursive: true, force: true });
  }
}

function ok(result: RunResult): void {
  assert.is(result.code, 0, result.stderr);
}

/** One error line `entra: <code>: ...` matching `pattern` (context lines are indented), the exit code, no secret. */
function fails(result: RunResult, exit: number, code: string, pattern: RegExp, secrets: string[]): void {
  assert.is(result.code, exit, result.stderr);
  const lines = result.stderr.split('\n').filter(Boolean);
  const head = lines.filter((l) => !l.startsWith('  '));
  assert.is(head.length, 1, result.stderr);
  assert.ok(head[0]!.startsWith(`entra: ${code}: `), result.stderr);
  assert.match(head[0]!, pattern);
  for (const secret of secrets)
    assert.not.ok(
      result.stderr.includes(secret) || result.stdout.includes(secret),
      `secret in ${result.stderr}`,
    );
}

// ---

const Secret = suite('credentials: client secret and certificate (entra emulate --certificate-out)');

Secret(
  'export signs in with ApplicationKey, PEM, PFX + password from the environment, and a thumbprint',
  () =>
    withEmulate({ certificateOut: 'certs' }, async (e) => {
      const { emu, info } = e.running;
      const certs = join(e.dir, 'certs');
      assert.ok(String((info.certificate as { pem: string }).pem).endsWith('/certs/app.pem'));
      const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
      assert.is(settings.Connections.Contoso.CertificatePath, 'certs/app.pem');
      assert.is(settings.Connections.Contoso.ApplicationKey, undefined);
      for (const f of ['app.pem', 'app.pfx', 'app.pfx.password'])
        assert.is((await stat(join(certs, f))).mode & 0o777, 0o600, f);

      ok(await e.run());
      assert.match(
        await readFile(join(e.dir, 'out', 'Contoso_directoryobjects.csv'), 'utf8'),
        /#microsoft\.graph\.user/,
      );

      const password = await readFile(join(certs, 'app.pfx.password'), 'utf8');
      const pfx = ['Connections:Contoso:CertificatePath=certs/app.pfx'];
      ok(await e.run({ setting: pfx }, { Connections__Contoso__CertificatePassword: password }));
      const thumbprint = (info.certificate as { thumbprint: string }).thumbprint;
      ok(await e.run({ setting: [`Connections:Contoso:CertificateThumbprint=${thumbprint.toLowerCase()}`] }));

      // The plain secret, with the settings an `entra emulate` without flags writes.
      const plain = join(e.dir, 'secret.json');
      await writeFile(plain, JSON.stringify(emu.settings('Contoso')), { mode: 0o600 });
      ok(await e.run({ settings: plain }));
      const tokenRequests = emu.requests.filter((r) => r.path.includes('/oauth2/v2.0/token'));
      assert.ok(tokenRequests.length >= 4 && tokenRequests.every((r) => r.status === 200));
    }),
);

Secret('wrong or missing certificate pieces are one clear line with exit 2, without the password', () =>
  withEmulate({ certificateOut: 'certs' }, async (e) => {
    const { emu } = e.running;
    const certs = join(e.dir, 'certs');
    const password = await readFile(join(certs, 'app.pfx.password'), 'utf8');
    const pfx = ['Connections:Contoso:CertificatePath=certs/app.pfx'];
    const wrong = 'Wr0ng-pfx-password';
    fails(
      await e.run({ setting: pfx }, { Connections__Contoso__CertificatePassword: wrong }),
      2,
      'ERR_CERTIFICATE',
      /app\.pfx .*wrong PFX password \(CertificatePassword\)/,
      [wrong, password],
    );
    fails(
      await e.run({ setting: pfx }),
      2,
      'ERR_CERTIFICATE',
      /password-protected: give its CertificatePassword/,
      [],
    );

    const pem = await readFile(join(certs, 'app.pem'), 'utf8');
    await writeFile(join(certs, 'cert-only.pem'), pem.slice(0, pem.indexOf('-----BEGIN PRIVATE KEY')));
    fails(
      await e.run({ setting: ['Connections:Contoso:CertificatePath=certs/cert-only.pem'] }),
      2,
      'ERR_CERTIFICATE',
      /cert-only\.pem .*no private key: signing in with a certificate needs/,
      [],
    );
    fails(
      await e.run({ setting: [`Connections:Contoso:CertificateThumbprint=${'AB'.repeat(20)}`] }),
      2,
      'ERR_SETTINGS',
      /app\.pem does not have CertificateThumbprint ABAB/,
      [],
    );
    fails(
      await e.run({ setting: ['Connections:Contoso:CertificatePath=certs/missing.pfx'] }),
      2,
      'ERR_CERTIFICATE',
      /certificate file not found: .*missing\.pfx/,
      [],
    );
    // A certificate the app registration does not know: the token endpoint refuses it (exit 1).
    const other = generateSelfSignedCertificate({ commonName: 'unknown' });
    await writeFile(join(certs, 'other.pem'), other.certPem + other.keyPem, { mode: 0o600 });
    fails(
      await e.run({ setting: ['Connections:Contoso:CertificatePath=certs/other.pem'] }),
      1,
      'ERR_AUTH',
      /AADSTS700027: .*Check CertificatePath/,
      [],
    );
    fails(
      await e.run({}, { Connections__Contoso__ApplicationKey: emu.clientSecret }),
      2,
      'ERR_SETTINGS',
      /ApplicationKey \(from environment variable Connections__Contoso__ApplicationKey\) and CertificatePath \(from .*appsettings\.agent\.json\) are set: keep exactly one credential/,
      [emu.clientSecret],
    );
  }),
);

Secret.run();

// ---

const Federated = suite('credentials: federated assertion (entra emulate --federated-token-out)');

Federated(
  'export signs in with ClientAssertionFile; an unreadable or expired assertion is one clear line',
  () =>
    withEmulate({ federatedTokenOut: 'token.jwt' }, async (e) => {
      const { emu } = e.running;
      const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
      assert.is(settings.Connections.Contoso.ClientAssertionFile, 'token.jwt');
      const assertion = (await readFile(join(e.dir, 'token.jwt'), 'utf8')).trim();
      assert.is((await stat(join(e.dir, 'token.jwt'))).mode & 0o777, 0o600);
      ok(await e.run());
      const doctor = await e.doctor();
      assert.is(doctor.code, 0, doctor.out);
      assert.match(doctor.out, /OK {3}token: obtained with the federated assertion .*token\.jwt from https:/);

      fails(
        await e.run({ setting: ['Connections:Contoso:ClientAssertionFile=missing.jwt'] }),
        2,
        'ERR_SETTINGS',
        /connection "Contoso": cannot read ClientAssertionFile .*missing\.jwt: ENOENT/,
        [],
      );
      // The assertion lives an hour: two hours later Entra refuses it.
      emu.clock.advance(2 * 3600_000);
      fails(await e.run(), 1, 'ERR_AUTH', /AADSTS700024: .*Check the client assertion/, [assertion]);
    }),
);

Federated.run();

// ---

const Managed = suite('credentials: managed identity (entra emulate --managed-identity)');

Managed('export signs in as the managed identity; without IDENTITY_ENDPOINT it is one clear line', () =>
  withEmulate({ managedIdentity: true }, async (e) => {
    const mi = e.running.emu.managedIdentity!;
    const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
    assert.is(settings.Connections.Contoso.ManagedIdentity, true);
    assert.is(e.running.info.IDENTITY_ENDPOINT, mi.endpoint);
    assert.is(e.running.info.IDENTITY_HEADER, mi.header);
    await withProcessEnv(mi.env, async () => {
      ok(await e.run({}, { ...mi.env }));
      assert.ok(mi.requests.some((r) => r.status === 200));
      const doctor = await e.doctor({}, { ...mi.env });
      assert.match(
        doctor.out,
        /token: obtained with the managed identity \(system-assigned\) from the managed-identity endpoint/,
      );
      fails(
        await e.run({}, { IDENTITY_HEADER: mi.header }),
        2,
        'ERR_SETTINGS',
        /managed identity is not available here: IDENTITY_ENDPOINT is not set/,
        [mi.header],
      );
      fails(
        await e.run({}, { ...mi.env, IDENTITY_HEADER: 'stale-identity-header' }),
        1,
        'ERR_AUTH',
        /HTTP 401.*IDENTITY_HEADER does not match/,
        [mi.header, 'stale-identity-header'],
      );
    });
  }),
);

Managed.run();

// ---

const Vaults = suite('credentials: each vault kind supplies the secret that then authenticates');

Vaults('Azure Key Vault read as the managed identity: no secret in the settings file', () =>
  withEmulate({ keyVault: true, managedIdentity: true }, async (e) => {
    const { emu } = e.running;
    const mi = emu.managedIdentity!;
    const text = await readFile(e.settingsFile, 'utf8');
    assert.not.ok(text.includes(emu.clientSecret));
    assert.is(JSON.parse(text).AzureKeyVault.Authentication, 'ManagedIdentity');
    await withProcessEnv(mi.env, async () => {
      ok(await e.run({}, { ...mi.env }));
      const doctor = await e.doctor({}, { ...mi.env });
      assert.is(doctor.code, 0, doctor.out);
      assert.match(
        doctor.out,
        /ApplicationKey = \*\*\* \(set\) {2}\[Azure Key Vault https:\/\/127\.0\.0\.1:\d+\/keyvault\/contoso-kv\]/,
      );
      assert.not.ok(doctor.out.includes(emu.clientSecret));

      // The identity may not list the vault (403), then may list but not read (403).
      emu.keyVault.revoke(KEY_VAULT_NAME, mi.clientId);
      fails(
        await e.run({}, { ...mi.env }),
        1,
        'ERR_KEY_VAULT',
        /the system-assigned managed identity may not list the secrets in Azure Key Vault .*grant it the secret permissions Get and List/,
        [emu.clientSecret],
      );
      emu.keyVault.allow(KEY_VAULT_NAME, mi.clientId, ['list']);
      fails(
        await e.run({}, { ...mi.env }),
        1,
        'ERR_KEY_VAULT',
        /may not read secret Connections--Contoso--ApplicationKey in Azure Key Vault/,
        [emu.clientSecret],
      );
      emu.keyVault.allow(KEY_VAULT_NAME, mi.clientId, ['get']);
      // The secret is missing from the vault: no credential, and where it was looked for.
      emu.keyVault.deleteSecret(KEY_VAULT_NAME, 'Connections--Contoso--ApplicationKey');
      fails(
        await e.run({}, { ...mi.env }),
        2,
        'ERR_SETTINGS',
        /no credential: .*Azure Key Vault .*contoso-kv.*Connections--Contoso--ApplicationKey/,
        [],
      );
    });
  }),
);

Vaults('Azure Key Vault read with the app credentials of the AzureKeyVault section', () =>
  withEmulate({ keyVault: true }, async (e) => {
    const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
    assert.is(settings.AzureKeyVault.Authentication, 'ClientSecret');
    assert.is(settings.Connections.Contoso.ApplicationKey, undefined);
    ok(await e.run());
    // A vault that does not exist: the emulator answers 404.
    fails(
      await e.run({ setting: [`AzureKeyVault:Vault=${e.running.emu.url}/keyvault/missing-kv`] }),
      1,
      'ERR_KEY_VAULT',
      /missing-kv: cannot list the secrets: HTTP 404/,
      [e.running.emu.clientSecret],
    );
  }),
);

Vaults('CyberArk over mutual TLS; a missing object or a wrong client certificate is one clear line', () =>
  withEmulate({ cyberark: 'cyberark' }, async (e) => {
    const { emu } = e.running;
    const ccp = emu.cyberArk!;
    const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
    assert.is(settings.CyberArk.ClientCertificate, 'cyberark/client.pem');
    const agent = JSON.parse(await readFile(join(e.dir, 'appsettings.cyberark.agent.json'), 'utf8'));
    assert.equal(agent, { Connections: { Contoso: { ApplicationKey: 'Contoso-ApplicationKey' } } });
    ok(await e.run());
    const doctor = await e.doctor();
    assert.match(doctor.out, /ApplicationKey = \*\*\* \(set\) {2}\[CyberArk https:\/\/127\.0\.0\.1:\d+\]/);

    const stranger = generateSelfSignedCertificate({ commonName: 'stranger' });
    await writeFile(join(e.dir, 'stranger.pem'), stranger.certPem + stranger.keyPem, { mode: 0o600 });
    fails(
      await e.run({
        setting: ['CyberArk:ClientCertificate=stranger.pem', 'CyberArk:ClientCertificateKey=stranger.pem'],
      }),
      1,
      'ERR_CYBERARK',
      /cannot fetch object 'Contoso-ApplicationKey' for Connections:Contoso:ApplicationKey: the CCP refused the TLS connection/,
      [emu.clientSecret],
    );
    // Signed by the CCP's client CA, but not the certificate allowed for the AppID.
    const other = ccp.issueClientCertificate('other-machine');
    await writeFile(join(e.dir, 'other.pem'), other.certPem + other.keyPem, { mode: 0o600 });
    fails(
      await e.run({
        setting: ['CyberArk:ClientCertificate=other.pem', 'CyberArk:ClientCertificateKey=other.pem'],
      }),
      1,
      'ERR_CYBERARK',
      /APPAP306E: .*check CyberArk:ClientCertificate/,
      [emu.clientSecret],
    );
    ccp.deleteObject('EntraSafe', 'Contoso-ApplicationKey');
    fails(
      await e.run(),
      1,
      'ERR_CYBERARK',
      /APPAP004E: Password object matching query .*Object=Contoso-ApplicationKey/,
      [],
    );
  }),
);

Vaults('encrypted settings (entra protect file) supply the secret', () =>
  withEmulate({}, async (e) => {
    const { emu } = e.running;
    const enc = generateSelfSignedCertificate({ commonName: 'settings encryption' });
    await writeFile(join(e.dir, 'enc.pem'), enc.certPem + enc.keyPem, { mode: 0o600 });
    const secrets = join(e.dir, 'secrets.json');
    await writeFile(
      secrets,
      JSON.stringify({ Connections: { Contoso: { ApplicationKey: emu.clientSecret } } }),
    );
    const io = { stdin: new PassThrough(), stdout: textSink(), stderr: textSink(), env: {} };
    const encrypted = join(e.dir, 'appsettings.encrypted.agent.json');
    assert.is(
      await protectCommand(
        { action: 'file', input: secrets, output: encrypted, certificate: join(e.dir, 'enc.pem') },
        io,
      ),
      0,
    );
    await rm(secrets);
    const settings = JSON.parse(await readFile(e.settingsFile, 'utf8'));
    delete settings.Connections.Contoso.ApplicationKey;
    settings.EncryptionCertificate = { File: 'enc.pem' };
    await writeFile(e.settingsFile, JSON.stringify(settings), { mode: 0o600 });
    assert.not.ok((await readFile(encrypted, 'utf8')).includes(emu.clientSecret));
    ok(await e.run());
    const doctor = await e.doctor();
    assert.match(doctor.out, /ApplicationKey = \*\*\* \(set\) {2}\[.*appsettings\.encrypted\.agent\.json\]/);
  }),
);

Vaults.run();

// ---

const Precedence = suite('credentials: precedence, key by key');

const LAYERS = ['plain', 'encrypted', 'keyvault', 'cyberark', 'environment', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

Precedence(
  'each layer overrides the one below it for TenantId, MicrosoftGraphPathApi and ApplicationKey',
  () =>
    withEmulator({ keyVault: {}, cyberArk: {} }, async (emu) => {
      const dir = await mkdtemp(join(tmpdir(), 'precedence-'));
      try {
        // Per layer: a tenant, a Graph URL and a secret of its own.
        const tenant = (l: Layer) => `${l}.contoso.com`;
        const graph = (l: Layer) => `https://${l}.graph.example/v1.0/`;
        const secret = (l: Layer) => `${l}-secret-value-${l.length}`;
        const keys = (l: Layer) => ({
          TenantId: tenant(l),
          MicrosoftGraphPathApi: graph(l),
          ApplicationKey: secret(l),
        });
        const enc = generateSelfSignedCertificate({ commonName: 'precedence' });
        await writeFile(join(dir, 'enc.pem'), enc.certPem + enc.keyPem, { mode: 0o600 });
        const ccp = emu.cyberArk!;
        const client = ccp.issueClientCertificate('precedence');
        await writeFile(join(dir, 'client.pem'), client.certPem + client.keyPem, { mode: 0o600 });
        await writeFile(join(dir, 'ca.pem'), emu.caPem);
        ccp.addApplication({ appId: 'Precedence', safes: ['Safe'] });
        const settingsFile = join(dir, 'appsettings.agent.json');
        await writeFile(
          settingsFile,
          JSON.stringify({
            Connections: { Contoso: { ApplicationId: emu.clientId, ...keys('plain') } },
            EncryptionCertificate: { File: 'enc.pem' },
            AzureKeyVault: {
              Vault: emu.keyVault.url('precedence'),
              Authentication: 'ClientSecret',
              TenantId: emu.tenantId,
              ApplicationId: emu.clientId,
              ApplicationKey: emu.clientSecret,
              MicrosoftAuthorityPath: `${emu.url}/{0}`,
            },
            CyberArk: {
              Server: ccp.url,
              ApplicationId: 'Precedence',
              SafeName: 'Safe',
              ClientCertificate: 'client.pem',
              CaFile: 'ca.pem',
            },
          }),
          { mode: 0o600 },
        );
        emu.keyVault.allow('precedence', emu.clientId, ['get', 'list']);

        /** Sets the three keys in every layer up to `top` (and removes them from the layers above). */
        const stack = async (top: Layer) => {
          const has = (l: Layer) => LAYERS.indexOf(l) <= LAYERS.indexOf(top);
          const encrypted = has('encrypted') ? { Connections: { Contoso: keys('encrypted') } } : {};
          await writeFile(
            join(dir, 'appsettings.encrypted.agent.json'),
            JSON.stringify(encryptSettingsJson(encrypted, enc.certPem).json),
          );
          for (const [key, value] of Object.entries(keys('keyvault')))
            if (has('keyvault')) emu.keyVault.setSecret('precedence', `Connections--Contoso--${key}`, value);
            else emu.keyVault.deleteSecret('precedence', `Connections--Contoso--${key}`);
          const objects: Record<string, string> = {};
          for (const [key, value] of Object.entries(keys('cyberark'))) {
            ccp.setObject('Safe', `obj-${key}`, { Content: value });
            if (has('cyberark')) objects[key] = `obj-${key}`;
          }
          await writeFile(
            join(dir, 'appsettings.cyberark.agent.json'),
            JSON.stringify(has('cyberark') ? { Connections: { Contoso: objects } } : {}),
          );
          const env = has('environment')
            ? Object.fromEntries(
                Object.entries(keys('environment')).map(([k, v]) => [`Connections__Contoso__${k}`, v]),
              )
            : {};
          const setting = has('cli')
            ? Object.entries(keys('cli')).map(([k, v]) => `Connections:Contoso:${k}=${v}`)
            : [];
          const { layers } = await settingsLayers({ settings: settingsFile, setting }, env, {
            ca: emu.caPem,
          });
          return resolveConnection(layers);
        };

        const origin = (l: Layer) =>
          ({
            plain: settingsFile,
            encrypted: join(dir, 'appsettings.encrypted.agent.json'),
            keyvault: `Azure Key Vault ${emu.keyVault.url('precedence')}`,
            cyberark: `CyberArk ${ccp.url}`,
            environment: 'environment',
            cli: 'command line',
          })[l];
        for (const top of [...LAYERS].reverse()) {
          const settings = await stack(top);
          const got = {
            TenantId: settings.tenantId,
            MicrosoftGraphPathApi: settings.graphUrl,
            ApplicationKey: settings.applicationKey,
          };
          assert.equal(got, keys(top), top);
          for (const key of Object.keys(got))
            assert.is(settings.origins[key], origin(top), `${key} from ${top}`);
          assert.is(settings.origins.ApplicationId, settingsFile);
        }
        // Every layer's secret was registered for redaction as it was read, whichever won.
        for (const l of LAYERS) assert.is(redact(`x ${secret(l)} y`), 'x *** y', l);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }),
);

Precedence.run();

// ---

const Flags = suite('entra emulate: credential flags');

Flags('--settings-out with two credentials is a usage error naming them', async () => {
  try {
    await startEmulate({ certificateOut: 'x', federatedTokenOut: 'y', settingsOut: 's.json' });
    assert.unreachable('expected a usage error');
  } catch (error) {
    assert.match(String(error), /--certificate-out, --federated-token-out each give one: keep one of them/);
  }
});

Flags.run();
