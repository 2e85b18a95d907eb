import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSelfSignedCertificate, thumbprintSha256 } from '../../src/emulator/ca.js';
import type { AppRegistration } from '../../src/emulator/identity.js';
import { base64url, decodeJwt, signJwt } from '../../src/emulator/jwt.js';
import { UsageError } from '../../src/errors.js';
import { createTokenProvider, reuseUntil, type TokenProviderOptions } from '../../src/graph/token.js';
import { withIdentityServer, type IdentityServer } from '../helpers/identity-server.js';
import { rejection } from '../helpers/common.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'Xy8Q~correct.horse-battery_staple';
const GRAPH = 'https://graph.microsoft.com/.default';
const appCert = generateSelfSignedCertificate({ commonName: 'entra-connector test app' });
const APP: AppRegistration = {
  clientId: CLIENT,
  secrets: [SECRET],
  certificates: [appCert.certPem],
  roles: ['User.Read.All'],
};

function run(
  fn: (
    server: IdentityServer,
    provider: (o?: Partial<TokenProviderOptions>) => ReturnType<typeof createTokenProvider>,
  ) => Promise<void>,
  tokenLifetimeSeconds?: number,
) {
  return withIdentityServer({ tenantId: TENANT, apps: [APP], tokenLifetimeSeconds }, (server) =>
    fn(server, (overrides = {}) =>
      createTokenProvider({
        authority: `${server.origin}/${TENANT}`,
        clientId: CLIENT,
        credential: { kind: 'secret', secret: SECRET },
        scope: GRAPH,
        ca: server.caPem,
        connection: 'Contoso',
        ...overrides,
      }),
    ),
  );
}

const tokenPosts = (server: IdentityServer) =>
  server.requests.filter((r) => r.path.endsWith('/oauth2/v2.0/token')).length;

const CreateTokenProvider = suite('createTokenProvider');

CreateTokenProvider(
  'getToken() with a secret gets a token the emulator accepts, trusting only the given CA',
  () =>
    run(async (server, provider) => {
      const token = await provider().getToken();
      const auth = server.identity.authenticate(`Bearer ${token}`);
      assert.ok(auth.ok);
      assert.equal(auth.ok && auth.roles, ['User.Read.All']);
      assert.is(decodeJwt(token).payload.appidacr, '1');
    }),
);

CreateTokenProvider(
  'getToken() with a certificate sends a PS256 client assertion that the emulator verifies',
  () =>
    run(async (server, provider) => {
      const tokens = provider({
        credential: { kind: 'certificate', privateKeyPem: appCert.keyPem, certificatePem: appCert.certPem },
      });
      const token = await tokens.getToken();
      assert.is(decodeJwt(token).payload.appidacr, '2');
      const form = new URLSearchParams(server.requests.find((r) => r.path.endsWith('/token'))?.body);
      assert.not.ok(form.has('client_secret'));
      const { header, payload } = decodeJwt(form.get('client_assertion') ?? '');
      assert.is(header.alg, 'PS256');
      assert.is(header['x5t#S256'], base64url(Buffer.from(thumbprintSha256(appCert.certPem), 'hex')));
      assert.ok(Array.isArray(header.x5c), 'x5c sent');
      assert.is(payload.aud, `${server.origin}/${TENANT}/oauth2/v2.0/token`);
    }),
);

CreateTokenProvider('getToken() with an assertion callback sends what it returns', () =>
  run(async (server, provider) => {
    const getAssertion = async () => {
      const iat = Math.floor(Date.now() / 1000);
      const thumb = base64url(Buffer.from(thumbprintSha256(appCert.certPem), 'hex'));
      const claims = {
        aud: `${server.origin}/${TENANT}/oauth2/v2.0/token`,
        iss: CLIENT,
        sub: CLIENT,
        iat,
        nbf: iat,
        exp: iat + 300,
        jti: randomUUID(),
      };
      return signJwt({ typ: 'JWT', 'x5t#S256': thumb }, claims, appCert.keyPem, 'PS256');
    };
    const token = await provider({ credential: { kind: 'assertion', getAssertion } }).getToken();
    assert.ok(server.identity.authenticate(`Bearer ${token}`).ok);
  }),
);

CreateTokenProvider('getToken() is served from the cache, and concurrent callers share one request', () =>
  run(async (server, provider) => {
    const tokens = provider();
    const [a, b, c] = await Promise.all([tokens.getToken(), tokens.getToken(), tokens.getToken()]);
    assert.is(a, b);
    assert.is(b, c);
    for (let i = 0; i < 200; i++) assert.is(await tokens.getToken(), a);
    assert.is(tokenPosts(server), 1);
  }),
);

CreateTokenProvider('reuseUntil() keeps a token only while msal would serve it from its cache', () => {
  const expires = new Date('2026-12-05T12:00:00Z');
  // msal renews 300 s before expiry, or at refreshOn when Entra sent refresh_in.
  assert.is(reuseUntil(expires), Date.parse('2026-12-05T11:55:00Z'));
  assert.is(reuseUntil(expires, new Date('2026-12-05T11:30:00Z')), Date.parse('2026-12-05T11:30:00Z'));
  assert.is(reuseUntil(expires, new Date('2026-12-05T11:59:00Z')), Date.parse('2026-12-05T11:55:00Z'));
  assert.is(reuseUntil(null), 0, 'no expiry: ask msal every time');
});

CreateTokenProvider('getToken() renews the token when it nears expiry', () =>
  // msal renews 300 s before expiry, so a 301 s token is due for renewal about a second later.
  run(async (server, provider) => {
    const tokens = provider();
    const first = await tokens.getToken();
    assert.is(await tokens.getToken(), first);
    await delay(2100);
    const second = await tokens.getToken();
    assert.is.not(second, first);
    assert.ok(server.identity.authenticate(`Bearer ${second}`).ok);
    assert.is(tokenPosts(server), 2);
  }, 301),
);

CreateTokenProvider(
  'getToken() with a wrong secret fails with ERR_AUTH naming AADSTS7000215, not the secret',
  () =>
    run(async (server, provider) => {
      const wrong = 'Wr0ng~secret.value';
      const error = await rejection(provider({ credential: { kind: 'secret', secret: wrong } }).getToken());
      assert.is(error.code, 'ERR_AUTH');
      assert.is(error.exitCode, 1);
      assert.match(error.message, /AADSTS7000215: Invalid client secret provided/);
      assert.match(error.message, /ApplicationKey for connection "Contoso"/);
      assert.not.match(error.message, /Trace ID|\r|\n/);
      for (const text of [error.message, ...error.context]) assert.not.ok(text.includes(wrong), text);
      assert.is(tokenPosts(server), 1, 'a rejected credential is not retried');
    }),
);

CreateTokenProvider('getToken() against an unknown tenant fails with ERR_AUTH naming AADSTS90002', () =>
  run(async (server, provider) => {
    const error = await rejection(provider({ authority: `${server.origin}/contoso.example` }).getToken());
    assert.is(error.code, 'ERR_AUTH');
    assert.match(error.message, /AADSTS90002: Tenant 'contoso.example' not found/);
    assert.match(error.message, /TenantId/);
  }),
);

CreateTokenProvider(
  'getToken() without the CA refuses the emulator certificate (verification stays on)',
  () =>
    run(async (_server, provider) => {
      const error = await rejection(provider({ ca: undefined, retries: 0 }).getToken());
      assert.is(error.code, 'ERR_AUTH');
      assert.match(error.message, /certificate is not trusted/);
    }),
);

CreateTokenProvider('getToken() retries a token endpoint that answers 503 twice, then succeeds', () =>
  run(async (server, provider) => {
    let failures = 0;
    server.intercept = (req) => {
      if (req.url.pathname.endsWith('/token') && failures < 2) {
        failures++;
        return { status: 503, headers: { 'Retry-After': '0' }, body: 'Service Unavailable' };
      }
      return undefined;
    };
    const token = await provider({ retryDelayMs: 10 }).getToken();
    assert.ok(server.identity.authenticate(`Bearer ${token}`).ok);
    assert.is(tokenPosts(server), 3);
  }),
);

CreateTokenProvider(
  'getToken() rides out an outage of a few seconds (503, resets) with its default backoff',
  () =>
    run(async (server, provider) => {
      const until = Date.now() + 2000;
      let n = 0;
      server.intercept = (req) => {
        if (!req.url.pathname.endsWith('/token') || Date.now() >= until) return undefined;
        return n++ % 2 === 0 ? { status: 503, body: { error: 'temporarily_unavailable' } } : 'reset';
      };
      const token = await provider().getToken();
      assert.ok(server.identity.authenticate(`Bearer ${token}`).ok);
      assert.ok(tokenPosts(server) >= 3);
    }),
);

CreateTokenProvider('getToken() gives up after its retries with ERR_AUTH', () =>
  run(async (server, provider) => {
    server.intercept = (req) => (req.url.pathname.endsWith('/token') ? { status: 500, body: {} } : undefined);
    const error = await rejection(provider({ retries: 2, retryDelayMs: 5 }).getToken());
    assert.is(error.code, 'ERR_AUTH');
    assert.match(error.message, /HTTP 500/);
    assert.ok(error.context.includes('attempts: 3'));
    assert.is(tokenPosts(server), 3);
  }),
);

CreateTokenProvider("getToken() is not stuck behind msal's throttle after an answer with Retry-After", () =>
  run(async (server, provider) => {
    const tokens = provider({ retries: 0 });
    server.intercept = (req) =>
      req.url.pathname.endsWith('/token')
        ? { status: 429, headers: { 'Retry-After': '3600' }, body: { error: 'temporarily_unavailable' } }
        : undefined;
    await rejection(tokens.getToken());
    server.intercept = undefined;
    assert.ok(await tokens.getToken());
    assert.is(tokenPosts(server), 2);
  }),
);

CreateTokenProvider('getToken() never repeats a secret that a token endpoint echoes', () =>
  run(async (server, provider) => {
    server.intercept = (req) => {
      if (!req.url.pathname.endsWith('/token')) return undefined;
      const sent = new URLSearchParams(req.body.toString()).get('client_secret');
      const description = `AADSTS7000215: Invalid client secret provided: ${sent}.\r\nTrace ID: x`;
      return {
        status: 401,
        body: { error: 'invalid_client', error_description: description, error_codes: [7000215] },
      };
    };
    const error = await rejection(provider().getToken());
    assert.match(error.message, /AADSTS7000215: Invalid client secret provided: \*\*\*/);
    assert.not.ok(error.message.includes(SECRET));
    assert.is(error.cause, undefined);
  }),
);

CreateTokenProvider('createTokenProvider() rejects unusable options with ERR_INVALID_OPTION', () => {
  const base: TokenProviderOptions = {
    authority: `https://127.0.0.1:1/${TENANT}`,
    clientId: CLIENT,
    credential: { kind: 'secret', secret: SECRET },
    scope: GRAPH,
  };
  const other = generateSelfSignedCertificate({ commonName: 'other' });
  const bad: Partial<TokenProviderOptions>[] = [
    { authority: `http://127.0.0.1:1/${TENANT}` },
    { authority: 'https://login.microsoftonline.com/common' },
    { authority: 'not a url' },
    { ca: 'not a certificate' },
    { credential: { kind: 'secret', secret: '' } },
    { credential: { kind: 'certificate', privateKeyPem: other.keyPem, certificatePem: appCert.certPem } },
  ];
  for (const overrides of bad) {
    assert.throws(
      () => createTokenProvider({ ...base, ...overrides }),
      (error: unknown) => error instanceof UsageError && error.code === 'ERR_INVALID_OPTION',
      JSON.stringify(overrides).slice(0, 80),
    );
  }
});

CreateTokenProvider.run();
