import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decodeJwt } from '../../src/emulator/jwt.js';
import type { Emulator } from '../../src/emulator/server.js';
import { UsageError } from '../../src/errors.js';
import { createManagedIdentityTokenProvider } from '../../src/graph/managed-identity-token.js';
import { call, withEmulator } from '../helpers/emulator.js';
import { rejection, withProcessEnv } from '../helpers/common.js';

const USER_ASSIGNED = randomUUID();
const GRAPH = 'https://graph.microsoft.com/.default';

function run(fn: (emu: Emulator) => Promise<void>) {
  return withEmulator({ managedIdentity: { userAssigned: [USER_ASSIGNED] } }, (emu) =>
    withProcessEnv(emu.managedIdentity!.env, () => fn(emu)),
  );
}

const Create = suite('createManagedIdentityTokenProvider');

Create('getToken() returns a Graph token of the system-assigned identity, then its own cached copy', () =>
  run(async (emu) => {
    const mi = emu.managedIdentity!;
    const tokens = createManagedIdentityTokenProvider({
      credential: { kind: 'managedIdentity', env: { ...mi.env } },
      scope: GRAPH,
    });
    const token = await tokens.getToken();
    assert.is(decodeJwt(token).payload.appid, mi.clientId);
    assert.is((await call(emu, 'GET', '/v1.0/users?$top=1', { token })).status, 200);
    assert.is(await tokens.getToken(), token);
    assert.is(mi.requests.length, 1);
    await tokens.getToken({ forceRefresh: true });
    assert.is(mi.requests.length, 2);
    assert.equal(mi.requests[0]!.query, {
      'api-version': '2019-08-01',
      resource: 'https://graph.microsoft.com',
    });
  }),
);

Create('a user-assigned identity is chosen with client_id', () =>
  run(async (emu) => {
    const tokens = createManagedIdentityTokenProvider({
      credential: { kind: 'managedIdentity', clientId: USER_ASSIGNED, env: { ...emu.managedIdentity!.env } },
      scope: 'https://vault.azure.net/.default',
    });
    const claims = decodeJwt(await tokens.getToken()).payload;
    assert.is(claims.appid, USER_ASSIGNED);
    assert.is(claims.aud, 'https://vault.azure.net');
  }),
);

Create('the env passed in wins: its endpoint and header are the ones used', () =>
  run(async (emu) => {
    const mi = emu.managedIdentity!;
    // process.env (what msal reads) points elsewhere: the injected env decides where the request goes.
    await withProcessEnv(
      { IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token', IDENTITY_HEADER: 'stale' },
      async () => {
        const tokens = createManagedIdentityTokenProvider({
          credential: { kind: 'managedIdentity', env: { ...mi.env } },
          scope: GRAPH,
        });
        assert.ok(await tokens.getToken());
      },
    );
    assert.is(mi.requests.length, 1);
  }),
);

Create('throws ERR_AUTH (usage) when IDENTITY_ENDPOINT or IDENTITY_HEADER is missing', () => {
  try {
    createManagedIdentityTokenProvider({
      credential: { kind: 'managedIdentity', env: { IDENTITY_HEADER: 'x' } },
      scope: GRAPH,
    });
    assert.unreachable('expected a throw');
  } catch (error) {
    assert.instance(error, UsageError);
    assert.is((error as UsageError).code, 'ERR_SETTINGS');
    assert.match((error as Error).message, 'IDENTITY_ENDPOINT is not set');
  }
});

Create('rejects with ERR_AUTH naming the cause: wrong header, unknown identity, endpoint down', () =>
  run(async (emu) => {
    const mi = emu.managedIdentity!;
    const wrongHeader = await rejection(
      createManagedIdentityTokenProvider({
        credential: { kind: 'managedIdentity', env: { ...mi.env, IDENTITY_HEADER: 'rotated-long-ago' } },
        scope: GRAPH,
      }).getToken(),
    );
    assert.is(wrongHeader.code, 'ERR_AUTH');
    assert.match(wrongHeader.message, 'IDENTITY_HEADER does not match');
    assert.not.match(wrongHeader.message, 'rotated-long-ago');

    const unknown = await rejection(
      createManagedIdentityTokenProvider({
        credential: { kind: 'managedIdentity', clientId: randomUUID(), env: { ...mi.env } },
        scope: GRAPH,
      }).getToken(),
    );
    assert.match(unknown.message, 'Unable to load the proper Managed Identity');

    const down = await rejection(
      createManagedIdentityTokenProvider({
        credential: {
          kind: 'managedIdentity',
          env: { ...mi.env, IDENTITY_ENDPOINT: 'http://127.0.0.1:9/msi/token' },
        },
        scope: GRAPH,
        retries: 1,
        retryDelayMs: 1,
      }).getToken(),
    );
    assert.match(down.message, /ECONNREFUSED/);
    assert.match(down.context.join('\n'), 'attempts: 2');
  }),
);

Create.run();
