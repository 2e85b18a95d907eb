import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from '../../src/emulator/jwt.js';
import type { Emulator } from '../../src/emulator/server.js';
import { call, withEmulator } from '../helpers/emulator.js';

const USER_ASSIGNED = randomUUID();
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/**
 * msal-node as an app on App Service uses it: a process whose environment holds IDENTITY_ENDPOINT and
 * IDENTITY_HEADER (msal reads process.env itself), with msal's own network client. A child process,
 * because msal keeps the managed-identity source it picks, with its network client, in a static for
 * the rest of the process (the connector's provider must be the first to create one).
 */
const MSAL_AS_ON_APP_SERVICE = `
import { ManagedIdentityApplication } from '@azure/msal-node';
const app = new ManagedIdentityApplication();
const first = await app.acquireToken({ resource: 'https://graph.microsoft.com' });
const again = await app.acquireToken({ resource: 'https://graph.microsoft.com' });
const user = new ManagedIdentityApplication({ managedIdentityIdParams: { userAssignedClientId: process.argv[1] } });
const vault = await user.acquireToken({ resource: 'https://vault.azure.net' });
console.log(JSON.stringify({ source: app.getManagedIdentitySource(), token: first.accessToken,
  expiresOn: first.expiresOn, fromCache: again.fromCache, vault: vault.accessToken }));
`;

async function msalInChildProcess(env: Record<string, string>, userAssigned: string) {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--input-type=module', '-e', MSAL_AS_ON_APP_SERVICE, userAssigned],
    { cwd: ROOT, env: { ...process.env, ...env }, timeout: 60_000 },
  );
  return JSON.parse(stdout) as {
    source: string;
    token: string;
    expiresOn: string;
    fromCache: boolean;
    vault: string;
  };
}

function run(fn: (emu: Emulator) => Promise<void>) {
  return withEmulator({ managedIdentity: { userAssigned: [USER_ASSIGNED] } }, fn);
}

async function raw(emu: Emulator, query: string, header: string | null = emu.managedIdentity!.header) {
  const res = await fetch(`${emu.managedIdentity!.endpoint}?${query}`, {
    headers: header === null ? {} : { 'X-IDENTITY-HEADER': header },
  });
  return { status: res.status, json: (await res.json().catch(() => undefined)) as any };
}

const Endpoint = suite('startManagedIdentity()');

Endpoint(
  'msal-node ManagedIdentityApplication gets tokens Graph and Key Vault accept, then serves them from cache',
  () =>
    run(async (emu) => {
      const mi = emu.managedIdentity!;
      assert.match(mi.endpoint, /^http:\/\/127\.0\.0\.1:\d+\/msi\/token$/);
      const result = await msalInChildProcess(mi.env, USER_ASSIGNED);
      assert.is(result.source, 'AppService');
      const claims = decodeJwt(result.token).payload;
      assert.is(claims.appid, mi.clientId);
      assert.is(claims.aud, 'https://graph.microsoft.com');
      assert.ok(new Date(result.expiresOn).getTime() > Date.now() + 3000_000);
      assert.is((await call(emu, 'GET', '/v1.0/users?$top=1', { token: result.token })).status, 200);
      assert.is(result.fromCache, true);
      assert.is(decodeJwt(result.vault).payload.appid, USER_ASSIGNED);
      assert.is(decodeJwt(result.vault).payload.aud, 'https://vault.azure.net');
      assert.equal(
        mi.requests.map((r) => r.query),
        [
          { 'api-version': '2019-08-01', resource: 'https://graph.microsoft.com' },
          { 'api-version': '2019-08-01', resource: 'https://vault.azure.net', client_id: USER_ASSIGNED },
        ],
      );
    }),
);

Endpoint(
  'answers {access_token, expires_on (epoch seconds, a string), resource, token_type, client_id}',
  () =>
    run(async (emu) => {
      const r = await raw(emu, 'api-version=2019-08-01&resource=https://vault.azure.net');
      assert.is(r.status, 200);
      assert.equal(Object.keys(r.json).sort(), [
        'access_token',
        'client_id',
        'expires_on',
        'resource',
        'token_type',
      ]);
      assert.match(r.json.expires_on, /^\d{10}$/);
      assert.is(Number(r.json.expires_on), decodeJwt(r.json.access_token).payload.exp);
      assert.is(r.json.resource, 'https://vault.azure.net');
      assert.is(r.json.client_id, emu.managedIdentity!.clientId);
    }),
);

Endpoint('refuses a missing or wrong X-IDENTITY-HEADER, another api-version, and unknown identities', () =>
  run(async (emu) => {
    const ok = 'api-version=2019-08-01&resource=https://graph.microsoft.com';
    assert.is((await raw(emu, ok, null)).status, 401);
    const wrong = await raw(emu, ok, 'not-the-header');
    assert.is(wrong.status, 401);
    assert.equal(Object.keys(wrong.json).sort(), ['correlationId', 'message', 'statusCode']);
    assert.is((await raw(emu, 'api-version=2017-09-01&resource=https://graph.microsoft.com')).status, 400);
    const unknown = await raw(emu, `${ok}&client_id=${randomUUID()}`);
    assert.is(unknown.status, 400);
    assert.is(unknown.json.message, 'Unable to load the proper Managed Identity.');
    assert.is((await raw(emu, 'api-version=2019-08-01&resource=https://example.com')).status, 400);
  }),
);

Endpoint.run();
