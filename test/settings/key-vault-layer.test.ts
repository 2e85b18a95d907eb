import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator, EmulatorOptions } from '../../src/emulator/server.js';
import { UsageError } from '../../src/errors.js';
import { redact } from '../../src/redact.js';
import { keyVaultSettings, readKeyVaultLayer, secretNameToKey } from '../../src/settings/key-vault-layer.js';
import { flattenJson, resolveConnection, type SettingsLayer } from '../../src/settings/settings.js';
import { withEmulator } from '../helpers/emulator.js';
import { rejection, withProcessEnv } from '../helpers/common.js';

const VAULT = 'contoso-kv';
const USER_ASSIGNED = randomUUID();
const FROM_VAULT = 'Vault~secret.value-0123456789';

function run(fn: (emu: Emulator) => Promise<void>, options: EmulatorOptions = {}) {
  return withEmulator(
    {
      managedIdentity: { userAssigned: [USER_ASSIGNED] },
      keyVault: {
        vaults: {
          [VAULT]: {
            secrets: {
              'Connections--Contoso--ApplicationKey': FROM_VAULT,
              'Connections--Contoso--MicrosoftGraphPath': 'https://graph.microsoft.com/.default',
              'Old-Secret': { value: 'disabled-value', enabled: false },
            },
          },
        },
      },
      ...options,
    },
    (emu) => withProcessEnv(emu.managedIdentity!.env, () => fn(emu)),
  );
}

/** The plain file: the connection, plus an AzureKeyVault section signing in as the emulator's app. */
function plain(emu: Emulator, keyVault: Record<string, string> = {}): SettingsLayer {
  const settings = emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } };
  settings.Connections.Contoso.ApplicationKey = 'from-the-file';
  return flattenJson(
    {
      ...settings,
      AzureKeyVault: {
        Vault: `${emu.keyVault.url(VAULT)}/`,
        Authentication: 'ClientSecret',
        TenantId: emu.tenantId,
        ApplicationId: emu.clientId,
        ApplicationKey: emu.clientSecret,
        MicrosoftAuthorityPath: `${emu.url}/{0}`,
        ...keyVault,
      },
    },
    'appsettings.agent.json',
  );
}

const Read = suite('readKeyVaultLayer');

Read('reads every enabled secret as a setting, -- as :, with origin "Azure Key Vault <vault>"', () =>
  run(async (emu) => {
    emu.keyVault.allow(VAULT, emu.clientId, ['get', 'list']);
    const layer = await readKeyVaultLayer([plain(emu)], { env: {}, ca: emu.caPem });
    assert.ok(layer);
    assert.is(layer.origin, `Azure Key Vault ${emu.keyVault.url(VAULT)}`);
    assert.equal(
      [...layer.values],
      [
        ['Connections:Contoso:ApplicationKey', FROM_VAULT],
        ['Connections:Contoso:MicrosoftGraphPath', 'https://graph.microsoft.com/.default'],
      ],
    );
    assert.is(redact(`key=${FROM_VAULT}`), 'key=***');
  }),
);

Read('resolveConnection([plain, keyVault]) takes the vault value key by key', () =>
  run(async (emu) => {
    emu.keyVault.allow(VAULT, emu.clientId, ['get', 'list']);
    const file = plain(emu);
    const layer = await readKeyVaultLayer([file], { env: {}, ca: emu.caPem });
    const settings = resolveConnection([file, layer!], 'Contoso');
    assert.is(settings.applicationKey, FROM_VAULT);
    assert.is(settings.origins.ApplicationKey, layer!.origin);
    assert.is(settings.tenantId, emu.tenantId);
    assert.is(settings.origins.TenantId, 'appsettings.agent.json');
  }),
);

Read('signs in with the system-assigned or a user-assigned managed identity, and follows nextLink', () =>
  run(async (emu) => {
    const mi = emu.managedIdentity!;
    emu.keyVault.allow(VAULT, mi.clientId, ['get', 'list']);
    emu.keyVault.allow(VAULT, USER_ASSIGNED, ['get', 'list']);
    for (let i = 0; i < 30; i++) emu.keyVault.setSecret(VAULT, `Extra--Key${i}`, `extra-value-${i}`);
    const system = await readKeyVaultLayer(
      [
        flattenJson(
          { AzureKeyVault: { Vault: emu.keyVault.url(VAULT), Authentication: 'ManagedIdentity' } },
          'f.json',
        ),
      ],
      { env: { ...mi.env }, ca: emu.caPem },
    );
    assert.is(system!.values.size, 32);
    assert.is(system!.values.get('Extra:Key29'), 'extra-value-29');
    const user = await readKeyVaultLayer(
      [
        flattenJson(
          { AzureKeyVault: { Vault: emu.keyVault.url(VAULT), ManagedIdentityClientId: USER_ASSIGNED } },
          'f.json',
        ),
      ],
      { env: { ...mi.env }, ca: emu.caPem },
    );
    assert.is(user!.values.get('Connections:Contoso:ApplicationKey'), FROM_VAULT);
    const listCalls = emu.requests.filter((r) => r.path.startsWith(`/keyvault/${VAULT}/secrets?`));
    assert.ok(listCalls.some((r) => r.path.includes('$skiptoken=')));
  }),
);

Read('without an AzureKeyVault section returns undefined', async () => {
  assert.is(
    await readKeyVaultLayer([flattenJson({ Connections: { C: { A: 'b' } } }, 'f.json')], { env: {} }),
    undefined,
  );
});

Read('403: names the vault and the app, and what to grant', () =>
  run(async (emu) => {
    const error = await rejection(readKeyVaultLayer([plain(emu)], { env: {}, ca: emu.caPem }));
    assert.is(error.code, 'ERR_KEY_VAULT');
    assert.match(
      error.message,
      `app ${emu.clientId} may not list the secrets in Azure Key Vault ${emu.keyVault.url(VAULT)}`,
    );
    assert.match(error.message, 'AccessDenied');
    emu.keyVault.allow(VAULT, emu.clientId, ['list']);
    const get = await rejection(readKeyVaultLayer([plain(emu)], { env: {}, ca: emu.caPem }));
    assert.match(get.message, 'may not read secret Connections--Contoso--ApplicationKey');
  }),
);

Read('401 after a token (renewed once): says the vault rejected the token, with the challenge', () => {
  let calls = 0;
  return run(
    async (emu) => {
      emu.keyVault.allow(VAULT, emu.clientId, ['get', 'list']);
      const error = await rejection(readKeyVaultLayer([plain(emu)], { env: {}, ca: emu.caPem }));
      assert.is(error.code, 'ERR_KEY_VAULT');
      assert.match(error.message, `rejected the access token of app ${emu.clientId}`);
      assert.match(error.context.join('\n'), 'challenge: Bearer authorization=');
      assert.match(error.context.join('\n'), 'AKV10032');
      assert.is(calls, 2);
    },
    {
      handlers: [
        (req) => {
          if (!req.url.pathname.startsWith('/keyvault/')) return undefined;
          calls++;
          return {
            status: 401,
            headers: {
              'content-type': 'application/json; charset=utf-8',
              'www-authenticate':
                'Bearer authorization="https://login.windows.net/other-tenant", resource="https://vault.azure.net"',
            },
            body: {
              error: { code: 'Unauthorized', message: 'AKV10032: Invalid issuer. Expected one of ...' },
            },
          };
        },
      ],
    },
  );
});

Read('an unreachable vault is ERR_KEY_VAULT naming the vault', () =>
  run(async (emu) => {
    const error = await rejection(
      readKeyVaultLayer([plain(emu, { Vault: 'https://127.0.0.1:9/keyvault/gone' })], {
        env: {},
        ca: emu.caPem,
        retries: 0,
      }),
    );
    assert.is(error.code, 'ERR_KEY_VAULT');
    assert.match(
      error.message,
      'Azure Key Vault https://127.0.0.1:9/keyvault/gone is unreachable: ECONNREFUSED',
    );
  }),
);

Read.run();

// ---

const Settings = suite('keyVaultSettings');

const section = (values: Record<string, string>) =>
  keyVaultSettings([flattenJson({ AzureKeyVault: values }, 'appsettings.agent.json')]);

function usage(fn: () => unknown, pattern: string | RegExp): void {
  try {
    fn();
    assert.unreachable('expected a UsageError');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.is((error as UsageError).code, 'ERR_SETTINGS');
    assert.match((error as Error).message, pattern);
  }
}

Settings('keyVaultSettings(layers) rejects a bad or missing Vault URL and an unknown Authentication', () => {
  usage(() => section({ Authentication: 'ManagedIdentity' }), 'Vault is missing');
  usage(() => section({ Vault: 'contoso-kv' }), 'is not an absolute URL');
  usage(() => section({ Vault: 'http://contoso-kv.vault.azure.net/' }), 'must be an https URL');
  usage(
    () => section({ Vault: 'https://a.vault.azure.net/', Authentication: 'Password' }),
    'must be ManagedIdentity or ClientSecret',
  );
  usage(
    () => section({ Vault: 'https://a.vault.azure.net/', Authentication: 'ClientSecret' }),
    'TenantId is missing',
  );
  usage(
    () =>
      section({
        Vault: 'https://a.vault.azure.net/',
        Authentication: 'ManagedIdentity',
        ApplicationKey: 'x',
      }),
    'keep one credential',
  );
});

Settings('keyVaultSettings(layers) infers the authentication and the cloud of the vault', () => {
  assert.equal(section({ Vault: 'https://contoso-kv.vault.azure.net/' }), {
    vault: 'https://contoso-kv.vault.azure.net',
    authentication: { kind: 'managedIdentity' },
    scope: 'https://vault.azure.net/.default',
  });
  const secret = section({
    vault: 'https://contoso-kv.vault.azure.cn',
    TENANTID: 'contoso.partner.onmschina.cn',
    ApplicationId: '11111111-2222-3333-4444-555555555555',
    ApplicationKey: ' spaced secret ',
    MicrosoftAuthorityPath: 'https://login.chinacloudapi.cn/{0}/',
  });
  assert.equal(secret?.authentication, {
    kind: 'clientSecret',
    tenantId: 'contoso.partner.onmschina.cn',
    applicationId: '11111111-2222-3333-4444-555555555555',
    applicationKey: ' spaced secret ',
    authority: 'https://login.chinacloudapi.cn/contoso.partner.onmschina.cn',
  });
  assert.is(secret?.scope, 'https://vault.azure.cn/.default');
});

Settings('secretNameToKey(name) reads -- as the key delimiter', () => {
  assert.is(secretNameToKey('Connections--Contoso--ApplicationKey'), 'Connections:Contoso:ApplicationKey');
  assert.is(secretNameToKey('Plain-Name'), 'Plain-Name');
});

Settings.run();
