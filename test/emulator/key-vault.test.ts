import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { KEY_VAULT_RESOURCE } from '../../src/emulator/identity.js';
import type { Emulator } from '../../src/emulator/server.js';
import { call, withEmulator } from '../helpers/emulator.js';

const VAULT = 'contoso-kv';
const vaultToken = (emu: Emulator, clientId = emu.clientId) =>
  emu.identity.issueAccessToken(clientId, KEY_VAULT_RESOURCE);
const kv = (emu: Emulator, path: string, options: Parameters<typeof call>[3] = {}, method = 'GET') =>
  call(emu, method, `${emu.keyVault.url(VAULT)}${path}`, { token: vaultToken(emu), ...options });

function run(fn: (emu: Emulator) => Promise<void>) {
  return withEmulator(
    {
      keyVault: {
        vaults: {
          [VAULT]: {
            secrets: { 'Connections--Contoso--ApplicationKey': 's3cr3t-from-vault' },
            access: {},
          },
        },
      },
    },
    async (emu) => {
      emu.keyVault.allow(VAULT, emu.clientId, ['get', 'list', 'set']);
      await fn(emu);
    },
  );
}

const Handler = suite('createKeyVault().handler');

Handler('GET /secrets/{name} without a token answers 401 with the Key Vault challenge', () =>
  run(async (emu) => {
    const r = await kv(emu, '/secrets/Connections--Contoso--ApplicationKey?api-version=7.4', { token: null });
    assert.is(r.status, 401);
    assert.is(
      r.headers['www-authenticate'],
      `Bearer authorization="${emu.url}/${emu.tenantId}", resource="https://vault.azure.net"`,
    );
    assert.equal(r.json, {
      error: { code: 'Unauthorized', message: 'AKV10000: Request is missing a Bearer or PoP token.' },
    });
    assert.is(r.headers['content-type'], 'application/json; charset=utf-8');
    assert.ok(r.headers['x-ms-request-id']);
  }),
);

Handler('GET /secrets/{name} with a Graph token answers 401 AKV10022 (invalid audience)', () =>
  run(async (emu) => {
    const graphToken = emu.identity.issueAccessToken(emu.clientId);
    const r = await kv(emu, '/secrets/x?api-version=7.4', { token: graphToken });
    assert.is(r.status, 401);
    assert.ok(r.headers['www-authenticate']);
    assert.match(
      r.json.error.message,
      /^AKV10022: Invalid audience\. Expected https:\/\/vault\.azure\.net, found: https:\/\/graph\.microsoft\.com/,
    );
  }),
);

Handler('api-version missing or unknown answers 400 BadParameter', () =>
  run(async (emu) => {
    const missing = await kv(emu, '/secrets/Connections--Contoso--ApplicationKey');
    assert.is(missing.status, 400);
    assert.is(missing.json.error.code, 'BadParameter');
    assert.match(missing.json.error.message, /api-version/);
    const wrong = await kv(emu, '/secrets/Connections--Contoso--ApplicationKey?api-version=7.9');
    assert.is(wrong.status, 400);
    assert.equal(wrong.json.error, {
      code: 'BadParameter',
      message:
        'The specified version (7.9) is not recognized. Consider using the latest supported version (2025-07-01).',
    });
  }),
);

Handler('GET of a missing secret answers 404 SecretNotFound; a bad name 400', () =>
  run(async (emu) => {
    const r = await kv(emu, '/secrets/Nope?api-version=7.4');
    assert.is(r.status, 404);
    assert.is(r.json.error.code, 'SecretNotFound');
    assert.match(r.json.error.message, /^A secret with \(name\/id\) Nope was not found in this key vault\./);
    const bad = await kv(emu, '/secrets/Bad_Name?api-version=7.4');
    assert.is(bad.status, 400);
    assert.equal(bad.json.error, {
      code: 'BadParameter',
      message: 'The request URI contains an invalid name: Bad_Name',
    });
  }),
);

Handler('an app without permissions gets 403 Forbidden / AccessDenied naming the app and the vault', () =>
  run(async (emu) => {
    const other = randomUUID();
    emu.identity.addApp({ clientId: other, roles: [] });
    const r = await kv(emu, '/secrets?api-version=7.4', { token: vaultToken(emu, other) });
    assert.is(r.status, 403);
    assert.is(r.json.error.code, 'Forbidden');
    assert.equal(r.json.error.innererror, { code: 'AccessDenied' });
    assert.match(r.json.error.message, `'appid=${other};`);
    assert.match(
      r.json.error.message,
      `does not have secrets list permission on key vault '${VAULT};location=`,
    );
    emu.keyVault.allow(VAULT, other, ['list']);
    assert.is((await kv(emu, '/secrets?api-version=7.4', { token: vaultToken(emu, other) })).status, 200);
    const get = await kv(emu, '/secrets/Connections--Contoso--ApplicationKey?api-version=7.4', {
      token: vaultToken(emu, other),
    });
    assert.is(get.status, 403);
    assert.match(get.json.error.message, 'does not have secrets get permission');
  }),
);

Handler('GET /secrets pages by 25 (or maxresults) with nextLink, and ends with nextLink null', () =>
  run(async (emu) => {
    for (let i = 0; i < 30; i++)
      emu.keyVault.setSecret(VAULT, `s${String(i).padStart(2, '0')}`, `value-${i}`);
    const first = await kv(emu, '/secrets?api-version=7.4');
    assert.is(first.status, 200);
    assert.is(first.json.value.length, 25);
    assert.equal(Object.keys(first.json.value[0]).sort(), ['attributes', 'id', 'tags']);
    assert.is(first.json.value[0].value, undefined, 'the list carries no values');
    const next = new URL(first.json.nextLink);
    assert.is(next.searchParams.get('api-version'), '7.4');
    assert.ok(next.searchParams.get('$skiptoken'));
    const second = await call(emu, 'GET', first.json.nextLink, { token: vaultToken(emu) });
    assert.is(second.json.value.length, 6);
    assert.is(second.json.nextLink, null);
    const ids = [...first.json.value, ...second.json.value].map((v: any) => v.id.split('/').pop());
    assert.is(new Set(ids).size, 31);

    let pages = 0;
    let link: string | null = `${emu.keyVault.url(VAULT)}/secrets?api-version=7.4&maxresults=10`;
    while (link) {
      const page = await call(emu, 'GET', link, { token: vaultToken(emu) });
      pages++;
      if (page.json.nextLink) assert.is(new URL(page.json.nextLink).searchParams.get('maxresults'), '10');
      link = page.json.nextLink;
    }
    assert.is(pages, 4);
    assert.is((await kv(emu, '/secrets?api-version=7.4&maxresults=26')).status, 400);
  }),
);

Handler('PUT /secrets/{name} then GET returns the secret bundle, latest version first', () =>
  run(async (emu) => {
    const put = await kv(
      emu,
      '/secrets/Connections--Contoso--TenantId?api-version=7.4',
      {
        body: { value: 'contoso.onmicrosoft.com', tags: { owner: 'it' } },
      },
      'PUT',
    );
    assert.is(put.status, 200);
    const got = await kv(emu, '/secrets/Connections--Contoso--TenantId?api-version=7.4');
    assert.is(got.status, 200);
    assert.equal(Object.keys(got.json).sort(), ['attributes', 'id', 'tags', 'value']);
    assert.is(got.json.value, 'contoso.onmicrosoft.com');
    assert.match(
      got.json.id,
      new RegExp(`^${emu.keyVault.url(VAULT)}/secrets/Connections--Contoso--TenantId/[0-9a-f]{32}$`),
    );
    assert.equal(Object.keys(got.json.attributes).sort(), [
      'created',
      'enabled',
      'recoverableDays',
      'recoveryLevel',
      'updated',
    ]);
    assert.is(got.json.attributes.recoveryLevel, 'Recoverable+Purgeable');
    assert.equal(got.json.tags, { owner: 'it' });
    const version = got.json.id.split('/').pop();
    emu.keyVault.setSecret(VAULT, 'Connections--Contoso--TenantId', 'fabrikam.onmicrosoft.com');
    assert.is(
      (await kv(emu, '/secrets/Connections--Contoso--TenantId/?api-version=7.4')).json.value,
      'fabrikam.onmicrosoft.com',
    );
    const old = await kv(emu, `/secrets/Connections--Contoso--TenantId/${version}?api-version=7.4`);
    assert.is(old.json.value, 'contoso.onmicrosoft.com');
  }),
);

Handler('a disabled secret is listed as disabled and its GET answers 403 SecretDisabled', () =>
  run(async (emu) => {
    emu.keyVault.setSecret(VAULT, 'Old', { value: 'old-value', enabled: false });
    const list = await kv(emu, '/secrets?api-version=7.4');
    const item = list.json.value.find((v: any) => v.id.endsWith('/Old'));
    assert.is(item.attributes.enabled, false);
    const r = await kv(emu, '/secrets/Old?api-version=7.4');
    assert.is(r.status, 403);
    assert.equal(r.json.error.innererror, { code: 'SecretDisabled' });
  }),
);

Handler('an unknown vault answers 404; other paths of the origin are not Key Vault', () =>
  run(async (emu) => {
    const r = await call(emu, 'GET', `${emu.url}/keyvault/other-kv/secrets?api-version=7.4`, {
      token: vaultToken(emu),
    });
    assert.is(r.status, 404);
    assert.is(
      emu.keyVault.handler({
        method: 'GET',
        url: new URL(`${emu.url}/v2/x`),
        headers: {},
        body: Buffer.alloc(0),
        requestId: 'r',
      }),
      undefined,
    );
  }),
);

Handler.run();
