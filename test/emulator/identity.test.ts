import { createPublicKey, randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateSelfSignedCertificate, thumbprintSha1, thumbprintSha256 } from '../../src/emulator/ca.js';
import type { EmuRequest, EmuResponse } from '../../src/emulator/http-types.js';
import { createIdentityPlatform, type IdentityPlatformOptions } from '../../src/emulator/identity.js';
import {
  base64url,
  decodeJwt,
  signJwt,
  verifyJwtSignature,
  type JwtPayload,
} from '../../src/emulator/jwt.js';
import { testTls } from '../helpers/identity-server.js';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT = 'aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee';
const SECRET = 'Secret~value.with+special/chars=';
const ORIGIN = 'https://127.0.0.1:4321';
const TOKEN_URL = `${ORIGIN}/${TENANT}/oauth2/v2.0/token`;
const START = Date.UTC(2025, 0, 15, 10, 0, 0);
const appCert = generateSelfSignedCertificate({ commonName: 'app' });
const strangerCert = generateSelfSignedCertificate({ commonName: 'stranger' });

function platform(overrides: Partial<IdentityPlatformOptions> = {}) {
  const clock = { t: START };
  const identity = createIdentityPlatform({
    tenantId: TENANT,
    tenantDomains: ['contoso.onmicrosoft.com'],
    apps: [
      {
        clientId: CLIENT,
        displayName: 'entra-connector',
        servicePrincipalId: '99999999-0000-0000-0000-000000000001',
        secrets: [SECRET],
        certificates: [appCert.certPem],
        roles: ['User.Read.All', 'Group.Read.All'],
      },
    ],
    now: () => clock.t,
    origin: () => ORIGIN,
    signingKey: testTls().signingKey,
    ...overrides,
  });
  return { identity, clock };
}

function request(method: string, path: string, body = '', headers: Record<string, string> = {}): EmuRequest {
  return { method, url: new URL(path, ORIGIN), headers, body: Buffer.from(body), requestId: randomUUID() };
}

function postToken(
  identity: ReturnType<typeof platform>['identity'],
  form: Record<string, string>,
  path = `/${TENANT}/oauth2/v2.0/token`,
) {
  const res = identity.handle(request('POST', path, new URLSearchParams(form).toString()));
  assert.ok(res, 'handled');
  return res as EmuResponse & { body: Record<string, any> };
}

const SECRET_FORM = {
  client_id: CLIENT,
  scope: 'https://graph.microsoft.com/.default',
  grant_type: 'client_credentials',
  client_secret: SECRET,
};

/** Asserts Entra's error shape and returns the first line of the description. */
function assertStsError(res: EmuResponse, status: number, error: string, code: number): string {
  const body = res.body as Record<string, any>;
  assert.is(res.status, status, JSON.stringify(body));
  assert.equal(Object.keys(body).sort(), [
    'correlation_id',
    'error',
    'error_codes',
    'error_description',
    'error_uri',
    'timestamp',
    'trace_id',
  ]);
  assert.is(body.error, error);
  assert.equal(body.error_codes, [code]);
  assert.match(body.timestamp, /^2025-01-15 \d\d:\d\d:\d\dZ$/);
  assert.is(body.error_uri, `https://login.microsoftonline.com/error?code=${code}`);
  const lines = String(body.error_description).split('\r\n');
  assert.is(lines.length, 4);
  assert.match(lines[0]!, new RegExp(`^AADSTS${code}: `));
  assert.is(lines[1], `Trace ID: ${body.trace_id}`);
  assert.is(lines[2], `Correlation ID: ${body.correlation_id}`);
  assert.is(lines[3], `Timestamp: ${body.timestamp}`);
  assert.is(res.headers?.['Cache-Control'], 'no-store, no-cache');
  return lines[0]!;
}

interface AssertionSpec {
  alg?: 'RS256' | 'PS256';
  header?: Record<string, unknown>;
  claims?: JwtPayload;
  keyPem?: string;
  certPem?: string;
}

function assertion(spec: AssertionSpec = {}): string {
  const cert = spec.certPem ?? appCert.certPem;
  const alg = spec.alg ?? 'PS256';
  const thumb = (hex: string) => base64url(Buffer.from(hex, 'hex'));
  const header =
    alg === 'PS256'
      ? { typ: 'JWT', 'x5t#S256': thumb(thumbprintSha256(cert)) }
      : { typ: 'JWT', x5t: thumb(thumbprintSha1(cert)) };
  const iat = Math.floor(START / 1000);
  const claims = {
    aud: TOKEN_URL,
    exp: iat + 600,
    iss: CLIENT,
    sub: CLIENT,
    nbf: iat,
    jti: randomUUID(),
    iat,
    ...spec.claims,
  };
  return signJwt({ ...header, ...spec.header }, claims, spec.keyPem ?? appCert.keyPem, alg);
}

function assertionForm(value: string): Record<string, string> {
  return {
    client_id: CLIENT,
    scope: 'https://graph.microsoft.com/.default',
    grant_type: 'client_credentials',
    client_assertion_type: 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer',
    client_assertion: value,
  };
}

const Handle = suite('handle');

Handle('handle(req) returns undefined for paths that are not the identity platform', () => {
  const { identity } = platform();
  assert.is(identity.handle(request('GET', '/v1.0/users')), undefined);
  assert.is(identity.handle(request('GET', `/v1.0/users/${TENANT}`)), undefined);
  assert.is(identity.handle(request('GET', `/${TENANT}/v2.0/.well-known/other`)), undefined);
});

Handle(
  'handle(GET openid-configuration) serves discovery on the emulator origin, by tenant id or domain',
  () => {
    const { identity } = platform();
    for (const tenant of [TENANT, 'contoso.onmicrosoft.com', 'CONTOSO.onmicrosoft.com']) {
      const res = identity.handle(request('GET', `/${tenant}/v2.0/.well-known/openid-configuration`));
      assert.is(res?.status, 200);
      const body = res?.body as Record<string, unknown>;
      assert.is(body.issuer, `${ORIGIN}/${TENANT}/v2.0`);
      assert.is(body.token_endpoint, TOKEN_URL);
      assert.is(body.authorization_endpoint, `${ORIGIN}/${TENANT}/oauth2/v2.0/authorize`);
      assert.is(body.jwks_uri, `${ORIGIN}/${TENANT}/discovery/v2.0/keys`);
      assert.ok((body.token_endpoint_auth_methods_supported as string[]).includes('private_key_jwt'));
    }
  },
);

Handle('handle(GET /{unknown}/...) answers AADSTS90002 with HTTP 400', () => {
  const { identity } = platform();
  const res = identity.handle(request('GET', '/contoso.com/v2.0/.well-known/openid-configuration'));
  assert.ok(res);
  const line = assertStsError(res, 400, 'invalid_tenant', 90002);
  assert.match(line, /Tenant 'contoso.com' not found/);
  const token = postToken(
    platform().identity,
    SECRET_FORM,
    '/22222222-2222-3333-4444-555555555555/oauth2/v2.0/token',
  );
  assertStsError(token, 400, 'invalid_request', 90002);
});

Handle('handle(GET keys) serves a JWKS whose key verifies issued tokens', () => {
  const { identity } = platform();
  const res = identity.handle(request('GET', `/${TENANT}/discovery/v2.0/keys`));
  assert.is(res?.status, 200);
  const [key] = (res?.body as { keys: Record<string, unknown>[] }).keys;
  assert.ok(key);
  assert.is(key.kid, identity.signingKeyId);
  assert.is(key.kty, 'RSA');
  assert.is(key.use, 'sig');
  const token = postToken(identity, SECRET_FORM).body.access_token as string;
  const jwt = decodeJwt(token);
  assert.is(jwt.header.kid, key.kid);
  assert.ok(
    verifyJwtSignature(
      jwt,
      createPublicKey({ key: { kty: 'RSA', n: key.n, e: key.e } as any, format: 'jwk' }),
    ),
  );
});

Handle.run();

// ---

const Token = suite('token endpoint');

Token('POST token with client_secret answers 200 with a Bearer JWT, no-store', () => {
  const { identity } = platform();
  const res = postToken(
    identity,
    SECRET_FORM,
    `/${TENANT}/oauth2/v2.0/token?client-request-id=${randomUUID()}`,
  );
  assert.is(res.status, 200);
  assert.equal(Object.keys(res.body), ['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
  assert.is(res.body.token_type, 'Bearer');
  assert.is(res.body.expires_in, 3599);
  assert.is(res.body.ext_expires_in, 3599);
  assert.is(res.headers?.['Cache-Control'], 'no-store, no-cache');
});

Token('POST token issues Entra-like app-only claims', () => {
  const { identity } = platform({ tokenLifetimeSeconds: 1200 });
  const { header, payload } = decodeJwt(postToken(identity, SECRET_FORM).body.access_token as string);
  assert.is(header.alg, 'RS256');
  assert.is(header.kid, identity.signingKeyId);
  const iat = START / 1000;
  assert.is(payload.aud, 'https://graph.microsoft.com');
  assert.is(payload.iss, `https://sts.windows.net/${TENANT}/`);
  assert.equal([payload.iat, payload.nbf, payload.exp], [iat, iat, iat + 1200]);
  assert.is(payload.appid, CLIENT);
  assert.is(payload.appidacr, '1');
  assert.is(payload.tid, TENANT);
  assert.is(payload.oid, '99999999-0000-0000-0000-000000000001');
  assert.is(payload.sub, payload.oid);
  assert.is(payload.idtyp, 'app');
  assert.is(payload.ver, '1.0');
  assert.is(payload.app_displayname, 'entra-connector');
  assert.equal(payload.roles, ['User.Read.All', 'Group.Read.All']);
  assert.type(payload.uti, 'string');
});

Token('POST token accepts HTTP Basic client authentication (RFC 6749 §2.3.1)', () => {
  const { identity } = platform();
  const basic = Buffer.from(`${encodeURIComponent(CLIENT)}:${encodeURIComponent(SECRET)}`).toString('base64');
  const body = new URLSearchParams({
    scope: 'https://graph.microsoft.com/.default',
    grant_type: 'client_credentials',
  });
  const res = identity.handle(
    request('POST', `/${TENANT}/oauth2/v2.0/token`, body.toString(), { authorization: `Basic ${basic}` }),
  );
  assert.is(res?.status, 200);
});

Token('POST token maps the scope to the audience: Graph by URL or app id, Key Vault', () => {
  const { identity } = platform();
  const aud = (scope: string) =>
    decodeJwt(postToken(identity, { ...SECRET_FORM, scope }).body.access_token as string).payload.aud;
  assert.is(aud('00000003-0000-0000-c000-000000000000/.default'), 'https://graph.microsoft.com');
  assert.is(aud('https://vault.azure.net/.default'), 'https://vault.azure.net');
});

Token('POST token with a wrong secret answers 401 AADSTS7000215 without echoing it', () => {
  const res = postToken(platform().identity, { ...SECRET_FORM, client_secret: 'not-the-secret-xyz' });
  const line = assertStsError(res, 401, 'invalid_client', 7000215);
  assert.match(line, /Invalid client secret provided/);
  assert.not.match(JSON.stringify(res.body), /not-the-secret-xyz/);
});

Token('POST token echoes the client-request-id as correlation_id and ignores the query string', () => {
  const id = randomUUID();
  const res = postToken(
    platform().identity,
    { ...SECRET_FORM, client_secret: 'x' },
    `/${TENANT}/oauth2/v2.0/token?client-request-id=${id}`,
  );
  assert.is(res.body.correlation_id, id);
});

Token('POST token for an unknown client answers 400 AADSTS700016 unauthorized_client', () => {
  const res = postToken(platform().identity, {
    ...SECRET_FORM,
    client_id: '00000000-1111-2222-3333-444444444444',
  });
  assert.match(
    assertStsError(res, 400, 'unauthorized_client', 700016),
    /Application with identifier '00000000-1111-2222-3333-444444444444' was not found/,
  );
});

Token('POST token without a credential answers 401 AADSTS7000216', () => {
  const { client_secret: _, ...form } = SECRET_FORM;
  assertStsError(postToken(platform().identity, form), 401, 'invalid_client', 7000216);
});

Token('POST token with another grant type answers 400 AADSTS70003; without one, AADSTS900144', () => {
  const { identity } = platform();
  const res = postToken(identity, { ...SECRET_FORM, grant_type: 'password' });
  assert.match(assertStsError(res, 400, 'unsupported_grant_type', 70003), /'password'/);
  const { grant_type: _, ...form } = SECRET_FORM;
  assert.match(assertStsError(postToken(identity, form), 400, 'invalid_request', 900144), /'grant_type'/);
});

Token('POST token rejects scopes that are not one known /.default', () => {
  const { identity } = platform();
  const scoped = (scope: string) => postToken(identity, { ...SECRET_FORM, scope });
  assert.match(
    assertStsError(scoped('https://graph.microsoft.com/User.Read.All'), 400, 'invalid_scope', 1002012),
    /Client credential flows must have a scope value with \/.default/,
  );
  assertStsError(
    scoped('https://graph.microsoft.com/.default https://vault.azure.net/.default'),
    400,
    'invalid_scope',
    70011,
  );
  assert.match(
    assertStsError(scoped('https://unknown.example/.default'), 400, 'invalid_resource', 500011),
    /resource principal named https:\/\/unknown.example was not found/,
  );
  const { scope: _, ...form } = SECRET_FORM;
  assert.match(assertStsError(postToken(identity, form), 400, 'invalid_request', 900144), /'scope'/);
});

Token('GET token answers AADSTS900561', () => {
  const res = platform().identity.handle(request('GET', `/${TENANT}/oauth2/v2.0/token`));
  assert.ok(res);
  assertStsError(res, 400, 'invalid_request', 900561);
});

Token.run();

// ---

const Assertion = suite('token endpoint, client assertion');

Assertion('POST token with a PS256 x5t#S256 assertion (msal-node) answers 200, appidacr 2', () => {
  const res = postToken(platform().identity, assertionForm(assertion()));
  assert.is(res.status, 200, JSON.stringify(res.body));
  assert.is(decodeJwt(res.body.access_token as string).payload.appidacr, '2');
});

Assertion('POST token with an RS256 x5t (SHA-1) assertion answers 200', () => {
  assert.is(postToken(platform().identity, assertionForm(assertion({ alg: 'RS256' }))).status, 200);
});

Assertion('POST token takes the client id from the assertion when client_id is absent', () => {
  const { client_id: _, ...form } = assertionForm(assertion());
  assert.is(postToken(platform().identity, form).status, 200);
});

Assertion('POST token accepts the token endpoint by domain or v1 as audience, within the clock skew', () => {
  const { identity } = platform();
  assert.is(
    postToken(
      identity,
      assertionForm(assertion({ claims: { aud: `${ORIGIN}/contoso.onmicrosoft.com/oauth2/v2.0/token` } })),
    ).status,
    200,
  );
  assert.is(
    postToken(identity, assertionForm(assertion({ claims: { aud: `${ORIGIN}/${TENANT}/oauth2/token` } })))
      .status,
    200,
  );
  assert.is(
    postToken(identity, assertionForm(assertion({ claims: { exp: START / 1000 - 200 } }))).status,
    200,
  );
});

Assertion('POST token with an expired or not-yet-valid assertion answers 401 AADSTS700024', () => {
  const { identity, clock } = platform();
  const value = assertion();
  clock.t = START + 601_000 + 300_000;
  const line = assertStsError(postToken(identity, assertionForm(value)), 401, 'invalid_client', 700024);
  assert.match(
    line,
    /Current time: 2025-01-15T10:15:01.0000000Z, assertion valid from 2025-01-15T10:00:00.0000000Z, expiry time of assertion 2025-01-15T10:10:00.0000000Z/,
  );
  clock.t = START;
  const future = assertion({ claims: { nbf: START / 1000 + 3600 } });
  assertStsError(postToken(identity, assertionForm(future)), 401, 'invalid_client', 700024);
});

Assertion('POST token with another audience answers 401 AADSTS700023', () => {
  const value = assertion({
    claims: { aud: 'https://login.microsoftonline.com/' + TENANT + '/oauth2/v2.0/token' },
  });
  assert.match(
    assertStsError(postToken(platform().identity, assertionForm(value)), 401, 'invalid_client', 700023),
    /audience claim does not match/,
  );
});

Assertion('POST token with an unregistered certificate answers 401 AADSTS700027 (key not found)', () => {
  const value = assertion({ certPem: strangerCert.certPem, keyPem: strangerCert.keyPem });
  const line = assertStsError(
    postToken(platform().identity, assertionForm(value)),
    401,
    'invalid_client',
    700027,
  );
  assert.match(line, /The key was not found/);
  assert.ok(line.includes(strangerCert.thumbprintSha256.toUpperCase()));
});

Assertion('POST token with a mis-signed assertion answers 401 AADSTS700027 (signature)', () => {
  const value = assertion({ keyPem: strangerCert.keyPem });
  assert.match(
    assertStsError(postToken(platform().identity, assertionForm(value)), 401, 'invalid_client', 700027),
    /did not match the expected signature/,
  );
  const tampered = assertion().replace(
    /\.([^.]+)\./,
    (_m, p: string) =>
      `.${base64url(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), exp: 9e9 }))}.`,
  );
  assertStsError(postToken(platform().identity, assertionForm(tampered)), 401, 'invalid_client', 700027);
});

Assertion('POST token with iss or sub not the client answers 401 AADSTS700021 / AADSTS50048', () => {
  const { identity } = platform();
  assertStsError(
    postToken(identity, assertionForm(assertion({ claims: { iss: 'someone-else', sub: 'someone-else' } }))),
    401,
    'invalid_client',
    700021,
  );
  assertStsError(
    postToken(identity, assertionForm(assertion({ claims: { sub: 'someone-else' } }))),
    401,
    'invalid_client',
    50048,
  );
});

Assertion('POST token with a garbled assertion answers 400 AADSTS50027 without echoing it', () => {
  const res = postToken(platform().identity, assertionForm('eyJhbGciOi.garbled-assertion-value'));
  assertStsError(res, 400, 'invalid_request', 50027);
  assert.not.match(JSON.stringify(res.body), /garbled-assertion-value/);
});

Assertion('POST token with an unsupported alg answers 400 AADSTS5002738', () => {
  const [, payload] = assertion().split('.');
  const value = `${base64url(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${payload}.`;
  assertStsError(postToken(platform().identity, assertionForm(value)), 400, 'invalid_request', 5002738);
});

Assertion('addApp(app) / removeApp(id) change who can sign in', () => {
  const { identity } = platform();
  identity.addApp({ clientId: 'new-app', secrets: ['s1'], roles: [] });
  const res = postToken(identity, { ...SECRET_FORM, client_id: 'new-app', client_secret: 's1' });
  assert.is(res.status, 200);
  assert.is(
    decodeJwt(res.body.access_token as string).payload.roles,
    undefined,
    'no roles claim without roles',
  );
  assert.ok(identity.removeApp('new-app'));
  assertStsError(
    postToken(identity, { ...SECRET_FORM, client_id: 'new-app', client_secret: 's1' }),
    400,
    'unauthorized_client',
    700016,
  );
});

Assertion.run();

// ---

const Authenticate = suite('authenticate');

function assertGraph401(
  result: ReturnType<ReturnType<typeof platform>['identity']['authenticate']>,
  message: string,
  requestId?: string,
) {
  assert.is(result.ok, false);
  if (result.ok) return;
  assert.is(result.response.status, 401);
  assert.match(
    String(result.response.headers?.['WWW-Authenticate']),
    /^Bearer realm="", authorization_uri="[^"]+", client_id="00000003-0000-0000-c000-000000000000"$/,
  );
  const body = result.response.body as {
    error: { code: string; message: string; innerError: Record<string, string> };
  };
  assert.is(body.error.code, 'InvalidAuthenticationToken');
  assert.is(body.error.message, message);
  assert.equal(Object.keys(body.error.innerError), ['date', 'request-id', 'client-request-id']);
  assert.match(body.error.innerError.date!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
  if (requestId) assert.is(body.error.innerError['request-id'], requestId);
}

Authenticate("authenticate(bearer) accepts the platform's tokens and returns app, tenant and roles", () => {
  const { identity } = platform();
  const token = postToken(identity, SECRET_FORM).body.access_token as string;
  const result = identity.authenticate(`Bearer ${token}`);
  assert.ok(result.ok);
  if (!result.ok) return;
  assert.is(result.appId, CLIENT);
  assert.is(result.tenantId, TENANT);
  assert.equal(result.roles, ['User.Read.All', 'Group.Read.All']);
  assert.is(result.claims.idtyp, 'app');
});

Authenticate(
  'authenticate(undefined) answers Graph\'s 401 "Access token is empty." with the given request-id',
  () => {
    const { identity } = platform();
    assertGraph401(identity.authenticate(undefined, undefined, 'rid-1'), 'Access token is empty.', 'rid-1');
    assertGraph401(identity.authenticate('Bearer '), 'Access token is empty.');
  },
);

Authenticate('authenticate(garbled) answers 401 and names a parsing failure', () => {
  const { identity } = platform();
  assertGraph401(
    identity.authenticate('Bearer not-a-jwt'),
    'CompactToken parsing failed with error code: 80049217',
  );
  assertGraph401(
    identity.authenticate('Bearer a.b.c'),
    'CompactToken parsing failed with error code: 80049217',
  );
});

Authenticate('authenticate(token of another platform or tenant) fails validation', () => {
  const other = createIdentityPlatform({
    tenantId: TENANT,
    apps: [{ clientId: CLIENT, secrets: [SECRET], roles: [] }],
    now: () => START,
    origin: () => ORIGIN,
    signingKey: { certPem: appCert.certPem, keyPem: appCert.keyPem },
  });
  const foreign = other.issueAccessToken(CLIENT);
  const { identity } = platform();
  const result = identity.authenticate(`Bearer ${foreign}`);
  assertGraph401(result, 'Access token validation failure.');
  assert.is(!result.ok && result.reason, 'signature');
  const sameKeyOtherTenant = platform({
    tenantId: '77777777-2222-3333-4444-555555555555',
  }).identity.issueAccessToken(CLIENT);
  assertGraph401(
    identity.authenticate(`Bearer ${sameKeyOtherTenant}`),
    'Access token validation failure. Invalid issuer.',
  );
});

Authenticate('authenticate(token for another resource) answers "Invalid audience."', () => {
  const { identity } = platform();
  const vault = identity.issueAccessToken(CLIENT, 'https://vault.azure.net');
  assertGraph401(
    identity.authenticate(`Bearer ${vault}`),
    'Access token validation failure. Invalid audience.',
  );
  assert.ok(identity.authenticate(`Bearer ${vault}`, 'https://vault.azure.net').ok);
});

Authenticate('authenticate(expired token) fails after exp plus the clock skew', () => {
  const { identity, clock } = platform({ tokenLifetimeSeconds: 600, clockSkewSeconds: 60 });
  const token = identity.issueAccessToken(CLIENT);
  clock.t = START + 650_000;
  assert.ok(identity.authenticate(`Bearer ${token}`).ok, 'within skew');
  clock.t = START + 661_000;
  const result = identity.authenticate(`Bearer ${token}`);
  assertGraph401(result, 'Lifetime validation failed, the token is expired.');
  assert.is(!result.ok && result.reason, 'expired');
});

Authenticate.run();
