import {
  X509Certificate,
  createHash,
  createPrivateKey,
  randomBytes,
  randomUUID,
  timingSafeEqual,
} from 'node:crypto';
import { generateSelfSignedCertificate } from './ca.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { STS, stsErrorAt, stsHeaders, stsTime, type StsCode, type StsContext } from './sts-errors.js';
import { JwtError, decodeJwt, signJwt, verifyJwtSignature, type DecodedJwt, type JwtPayload } from './jwt.js';

/**
 * The Microsoft identity platform (v2.0 endpoints) as the connector meets it: OpenID discovery, the
 * signing keys, the client-credentials token endpoint (secret or certificate assertion) with Entra's
 * error shapes and AADSTS codes, and Graph's bearer-token check. The server routes requests here.
 */

/** An app registration plus its service principal in the emulated tenant. */
export interface AppRegistration {
  clientId: string;
  displayName?: string;
  /** Object id of the service principal (the token's `oid`/`sub`); derived from the client id if absent. */
  servicePrincipalId?: string;
  secrets?: string[];
  /** Certificate credentials, PEM. */
  certificates?: string[];
  /** Application permissions granted (admin-consented), e.g. `User.Read.All`. */
  roles: string[];
  /**
   * Federated identity credentials (workload identity federation): an external issuer's token, with
   * this subject and audience, signed by the issuer's key, stands for the app.
   */
  federatedCredentials?: FederatedCredential[];
}

export interface FederatedCredential {
  issuer: string;
  subject: string;
  /** Default `api://AzureADTokenExchange`. */
  audiences?: string[];
  /** The issuer's signing key or certificate (PEM): Entra would fetch it from the issuer's JWKS. */
  publicKeyPem: string;
}

export interface IdentityPlatformOptions {
  tenantId: string;
  /** Verified domains, e.g. `contoso.onmicrosoft.com`; accepted in place of the tenant id in URLs. */
  tenantDomains?: string[];
  apps: AppRegistration[];
  /** Clock, epoch ms. */
  now: () => number;
  /** Access-token lifetime; default 3599 (what Entra's `expires_in` usually says). */
  tokenLifetimeSeconds?: number;
  /** The emulator's origin, e.g. `https://127.0.0.1:4321`; known only once the server listens. */
  origin: () => string;
  /** Tolerance for `exp`/`nbf` of assertions and access tokens; default 300 (IdentityModel's default). */
  clockSkewSeconds?: number;
  /** The token-signing certificate and key (PEM); generated when absent. */
  signingKey?: { certPem: string; keyPem: string };
}

export type AuthFailureReason =
  'empty' | 'malformed' | 'signature' | 'expired' | 'notYetValid' | 'audience' | 'issuer';

export type AuthResult =
  | { ok: true; appId: string; tenantId: string; roles: string[]; claims: JwtPayload }
  | { ok: false; reason: AuthFailureReason; message: string; response: EmuResponse };

export interface IdentityPlatform {
  /** Answers identity-platform paths; undefined for every other request. */
  handle(req: EmuRequest): EmuResponse | undefined;
  /** Checks an `Authorization` header as Graph does (for `resource`); failures carry Graph's 401. */
  authenticate(authorization: string | undefined, resource?: string, requestId?: string): AuthResult;
  /** Issues an access token directly, bypassing the token endpoint (for tests and tools). */
  issueAccessToken(clientId: string, resource?: string): string;
  addApp(app: AppRegistration): void;
  removeApp(clientId: string): boolean;
  /** The `kid` of the token-signing key (also its `x5t`). */
  signingKeyId: string;
}

export const GRAPH_RESOURCE = 'https://graph.microsoft.com';
export const KEY_VAULT_RESOURCE = 'https://vault.azure.net';
const GRAPH_APP_ID = '00000003-0000-0000-c000-000000000000';
/** Scope resource (lower case, no trailing slash) → token audience. */
const RESOURCES = new Map([
  [GRAPH_RESOURCE, GRAPH_RESOURCE],
  [GRAPH_APP_ID, GRAPH_RESOURCE],
  [KEY_VAULT_RESOURCE, KEY_VAULT_RESOURCE],
  ['cfa8b339-82a2-471a-a3c9-0fc0be7a4093', KEY_VAULT_RESOURCE],
]);
const ASSERTION_TYPE = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

interface RegisteredApp extends AppRegistration {
  servicePrincipalId: string;
  certs: { cert: X509Certificate; sha1: string; sha256: string }[];
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest();

function derivedObjectId(seed: string): string {
  const h = sha256(seed).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Creates the identity-platform side of the emulator for one tenant.
 * @example
 * const identity = createIdentityPlatform({ tenantId, apps, now: Date.now, origin: () => origin });
 * const answer = identity.handle(req) ?? graph.handle(req);
 */
export function createIdentityPlatform(options: IdentityPlatformOptions): IdentityPlatform {
  const { tenantId, now, origin } = options;
  const lifetime = options.tokenLifetimeSeconds ?? 3599;
  const skewMs = (options.clockSkewSeconds ?? 300) * 1000;
  const tenantNames = new Set([tenantId, ...(options.tenantDomains ?? [])].map((t) => t.toLowerCase()));
  const signing =
    options.signingKey ?? generateSelfSignedCertificate({ commonName: 'accounts.accesscontrol.windows.net' });
  const signingCert = new X509Certificate(signing.certPem);
  const signingPrivateKey = createPrivateKey(signing.keyPem);
  const signingKeyId = createHash('sha1').update(signingCert.raw).digest('base64url');
  const issuer = `https://sts.windows.net/${tenantId}/`;
  const apps = new Map<string, RegisteredApp>();

  function addApp(app: AppRegistration): void {
    const certs = (app.certificates ?? []).map((pem) => {
      const cert = new X509Certificate(pem);
      const digest = (algorithm: string) => createHash(algorithm).update(cert.raw).digest('hex');
      return { cert, sha1: digest('sha1'), sha256: digest('sha256') };
    });
    const servicePrincipalId = app.servicePrincipalId ?? derivedObjectId(`${tenantId}/${app.clientId}`);
    apps.set(app.clientId.toLowerCase(), { ...app, servicePrincipalId, certs });
  }
  options.apps.forEach(addApp);

  const stsError = <C extends StsCode>(ctx: StsContext, code: C, ...args: Parameters<(typeof STS)[C][2]>) =>
    stsErrorAt(now(), ctx, code, ...args);

  function openIdConfiguration(): EmuResponse {
    const base = `${origin()}/${tenantId}`;
    return {
      status: 200,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'max-age=86400, private',
      },
      body: {
        token_endpoint: `${base}/oauth2/v2.0/token`,
        token_endpoint_auth_methods_supported: [
          'client_secret_post',
          'private_key_jwt',
          'client_secret_basic',
        ],
        jwks_uri: `${base}/discovery/v2.0/keys`,
        response_modes_supported: ['query', 'fragment', 'form_post'],
        subject_types_supported: ['pairwise'],
        id_token_signing_alg_values_supported: ['RS256'],
        response_types_supported: ['code', 'id_token', 'code id_token', 'id_token token'],
        scopes_supported: ['openid', 'profile', 'email', 'offline_access'],
        issuer: `${base}/v2.0`,
        request_uri_parameter_supported: false,
        userinfo_endpoint: 'https://graph.microsoft.com/oidc/userinfo',
        authorization_endpoint: `${base}/oauth2/v2.0/authorize`,
        device_authorization_endpoint: `${base}/oauth2/v2.0/devicecode`,
        http_logout_supported: true,
        frontchannel_logout_supported: true,
        end_session_endpoint: `${base}/oauth2/v2.0/logout`,
        claims_supported: ['sub', 'iss', 'aud', 'exp', 'iat', 'nonce', 'name', 'tid', 'ver'],
        kerberos_endpoint: `${base}/kerberos`,
        tenant_region_scope: 'EU',
        cloud_instance_name: 'microsoftonline.com',
        cloud_graph_host_name: 'graph.windows.net',
        msgraph_host: 'graph.microsoft.com',
        rbac_url: 'https://pas.windows.net',
      },
    };
  }

  function keys(): EmuResponse {
    const { n, e } = signingCert.publicKey.export({ format: 'jwk' });
    const jwk = { kty: 'RSA', use: 'sig', kid: signingKeyId, x5t: signingKeyId, n, e };
    const x5c = [signingCert.raw.toString('base64')];
    return {
      status: 200,
      headers: {
        'Content-Type': 'application/json; charset=utf-8',
        'Cache-Control': 'max-age=86400, private',
      },
      body: { keys: [{ ...jwk, x5c, issuer: `${origin()}/${tenantId}/v2.0` }] },
    };
  }

  function issueAccessToken(app: RegisteredApp, audience: string, viaCertificate: boolean): string {
    const iat = Math.floor(now() / 1000);
    const claims: JwtPayload = {
      aud: audience,
      iss: issuer,
      iat,
      nbf: iat,
      exp: iat + lifetime,
      aio: randomBytes(48).toString('base64'),
      ...(app.displayName ? { app_displayname: app.displayName } : {}),
      appid: app.clientId,
      appidacr: viaCertificate ? '2' : '1',
      idp: issuer,
      idtyp: 'app',
      oid: app.servicePrincipalId,
      rh: `0.${randomBytes(24).toString('base64url')}.`,
      ...(app.roles.length > 0 ? { roles: [...app.roles] } : {}),
      sub: app.servicePrincipalId,
      tid: tenantId,
      uti: randomBytes(16).toString('base64url'),
      ver: '1.0',
    };
    return signJwt({ typ: 'JWT', x5t: signingKeyId, kid: signingKeyId }, claims, signingPrivateKey);
  }

  /** The assertion audiences Entra accepts for this tenant: its v2 and v1 token endpoints, by id or domain. */
  function tokenEndpoints(): Set<string> {
    const urls = [...tenantNames].flatMap((t) => [
      `${origin()}/${t}/oauth2/v2.0/token`,
      `${origin()}/${t}/oauth2/token`,
    ]);
    return new Set([...urls, `${origin()}/${tenantId}/oauth2/v2.0/token`]);
  }

  /** Checks a federated assertion (an external issuer's token) against the app's federated credentials. */
  function checkFederated(ctx: StsContext, app: RegisteredApp, jwt: DecodedJwt): EmuResponse | undefined {
    const { payload } = jwt;
    const byIssuer = (app.federatedCredentials ?? []).filter((f) => f.issuer === payload.iss);
    if (!byIssuer.length) return stsError(ctx, 700211, String(payload.iss));
    const bySubject = byIssuer.filter((f) => f.subject === payload.sub);
    if (!bySubject.length) return stsError(ctx, 700213, String(payload.sub));
    const audiences = Array.isArray(payload.aud) ? payload.aud.map(String) : [String(payload.aud)];
    const match = bySubject.find((f) =>
      (f.audiences ?? ['api://AzureADTokenExchange']).some((a) => audiences.includes(a)),
    );
    if (!match) return stsError(ctx, 700212, audiences.join(', '));
    if (!verifyJwtSignature(jwt, match.publicKeyPem)) return stsError(ctx, 50013, 'The key was not found.');
    if (typeof payload.exp !== 'number') return stsError(ctx, 50027);
    const nbfMs = (typeof payload.nbf === 'number' ? payload.nbf : 0) * 1000;
    const expMs = payload.exp * 1000;
    if (now() > expMs + skewMs || nbfMs > now() + skewMs)
      return stsError(ctx, 700024, stsTime(now()), stsTime(nbfMs), stsTime(expMs));
    return undefined;
  }

  /** Checks a client assertion; returns an error response, or undefined when it proves `app`. */
  function checkAssertion(ctx: StsContext, app: RegisteredApp, jwt: DecodedJwt): EmuResponse | undefined {
    const { header, payload } = jwt;
    // An assertion not issued by the app itself is a federated one (workload identity federation).
    if (
      typeof payload.iss === 'string' &&
      payload.iss.toLowerCase() !== app.clientId.toLowerCase() &&
      app.federatedCredentials?.length
    )
      return checkFederated(ctx, app, jwt);
    if (header.alg !== 'RS256' && header.alg !== 'PS256') return stsError(ctx, 5002738, String(header.alg));
    // x5t#S256 is what msal-node sends today; x5t (SHA-1) is the legacy form, still accepted.
    const byS256 = typeof header['x5t#S256'] === 'string';
    const thumb = byS256 ? header['x5t#S256'] : header.x5t;
    const thumbHex = typeof thumb === 'string' ? Buffer.from(thumb, 'base64url').toString('hex') : '';
    const key = thumbHex ? app.certs.find((c) => (byS256 ? c.sha256 : c.sha1) === thumbHex) : undefined;
    const used = `Thumbprint of key used by client: '${thumbHex.toUpperCase()}'`;
    if (!key) return stsError(ctx, 700027, 'The key was not found.', used, app.clientId);
    const validTo = new Date(key.cert.validTo);
    const found = `${used}, Found key 'Start=${new Date(key.cert.validFrom).toISOString()}, End=${validTo.toISOString()}'`;
    if (validTo.getTime() < now())
      return stsError(ctx, 700027, 'The key used is expired.', found, app.clientId);
    if (!verifyJwtSignature(jwt, key.cert.publicKey))
      return stsError(
        ctx,
        700027,
        'The provided signature value did not match the expected signature value.',
        found,
        app.clientId,
      );
    if (typeof payload.iss !== 'string' || payload.iss.toLowerCase() !== app.clientId.toLowerCase())
      return stsError(ctx, 700021);
    if (payload.sub !== payload.iss) return stsError(ctx, 50048);
    if (typeof payload.aud !== 'string') return stsError(ctx, 50027);
    if (!tokenEndpoints().has(payload.aud)) return stsError(ctx, 700023);
    if (typeof payload.exp !== 'number' || !['number', 'undefined'].includes(typeof payload.nbf))
      return stsError(ctx, 50027);
    const nbfMs = ((payload.nbf as number | undefined) ?? 0) * 1000;
    const expMs = payload.exp * 1000;
    if (now() > expMs + skewMs || nbfMs > now() + skewMs)
      return stsError(ctx, 700024, stsTime(now()), stsTime(nbfMs), stsTime(expMs));
    return undefined;
  }

  function token(req: EmuRequest, ctx: StsContext, tenantSegment: string): EmuResponse {
    if (req.method !== 'POST') return stsError(ctx, 900561, req.method);
    const form = new URLSearchParams(req.body.toString('utf8'));
    const duplicated = [...new Set(form.keys())].find((name) => form.getAll(name).length > 1);
    if (duplicated) return stsError(ctx, 9000411, duplicated);
    const basic = parseBasic(req.headers.authorization);
    const param = (name: string) => form.get(name) || undefined;

    const grantType = param('grant_type');
    if (!grantType) return stsError(ctx, 900144, 'grant_type');
    if (grantType !== 'client_credentials') return stsError(ctx, 70003, grantType);
    const rawAssertion = param('client_assertion');
    let assertion: DecodedJwt | undefined;
    if (rawAssertion !== undefined) {
      if (param('client_assertion_type') !== ASSERTION_TYPE)
        return stsError(ctx, 900144, 'client_assertion_type');
      try {
        assertion = decodeJwt(rawAssertion);
      } catch (error) {
        if (!(error instanceof JwtError)) throw error;
        return stsError(ctx, 50027);
      }
    }
    // RFC 7521 lets the assertion's issuer stand for client_id; Entra does the same.
    const assertedId = typeof assertion?.payload.iss === 'string' ? assertion.payload.iss : undefined;
    const clientId = param('client_id') ?? basic?.clientId ?? assertedId;
    if (!clientId) return stsError(ctx, 900144, 'client_id');
    const scope = param('scope');
    if (!scope) return stsError(ctx, 900144, 'scope');
    const scopes = scope.split(' ').filter(Boolean);
    const notDefault = scopes.find((s) => !s.endsWith('/.default'));
    if (notDefault !== undefined) return stsError(ctx, 1002012, notDefault);
    if (scopes.length !== 1) return stsError(ctx, 70011, scopes.join(' '));

    const app = apps.get(clientId.toLowerCase());
    if (!app) return stsError(ctx, 700016, clientId, tenantSegment);
    const secret = param('client_secret') ?? basic?.secret;
    if (assertion) {
      const failure = checkAssertion(ctx, app, assertion);
      if (failure) return failure;
    } else if (secret === undefined) {
      return stsError(ctx, 7000216);
    } else if (!(app.secrets ?? []).some((s) => timingSafeEqual(sha256(s), sha256(secret)))) {
      return stsError(ctx, 7000215, app.clientId);
    }
    const resource = scopes[0]!.slice(0, -'/.default'.length).replace(/\/$/, '').toLowerCase();
    const audience = RESOURCES.get(resource);
    if (!audience) return stsError(ctx, 500011, resource, tenantSegment);
    const accessToken = issueAccessToken(app, audience, assertion !== undefined);
    return {
      status: 200,
      headers: stsHeaders(ctx),
      body: {
        token_type: 'Bearer',
        expires_in: lifetime,
        ext_expires_in: lifetime,
        access_token: accessToken,
      },
    };
  }

  const IDENTITY_PATH =
    /^\/([^/]+)\/(v2\.0\/\.well-known\/openid-configuration|discovery\/v2\.0\/keys|oauth2\/v2\.0\/token)$/;

  function handle(req: EmuRequest): EmuResponse | undefined {
    const match = IDENTITY_PATH.exec(req.url.pathname);
    if (!match) return undefined;
    const tenantSegment = safeDecode(match[1]!);
    const endpoint = match[2]!;
    // Entra echoes the caller's client-request-id (msal sends it in the query string) as correlation_id.
    const clientRequestId =
      req.url.searchParams.get('client-request-id') ?? headerValue(req.headers['client-request-id']);
    const ctx: StsContext = { traceId: req.requestId, correlationId: clientRequestId ?? randomUUID() };
    if (!tenantNames.has(tenantSegment.toLowerCase())) {
      const res = stsError(ctx, 90002, tenantSegment);
      // Discovery says invalid_tenant where the token endpoint says invalid_request.
      if (!endpoint.startsWith('oauth2')) (res.body as { error: string }).error = 'invalid_tenant';
      return res;
    }
    if (endpoint.startsWith('oauth2')) return token(req, ctx, tenantSegment);
    if (req.method !== 'GET' && req.method !== 'HEAD')
      return { status: 405, headers: { Allow: 'GET, HEAD' } };
    return endpoint.startsWith('discovery') ? keys() : openIdConfiguration();
  }

  function authenticate(
    authorization: string | undefined,
    resource = GRAPH_RESOURCE,
    requestId = randomUUID(),
  ): AuthResult {
    const fail = (reason: AuthFailureReason, message: string): AuthResult => ({
      ok: false,
      reason,
      message,
      response: graphUnauthorized(message, requestId, origin(), now()),
    });
    const match = /^Bearer\s+(\S*)\s*$/i.exec(authorization?.trim() ?? '');
    const raw = match?.[1];
    if (!raw) return fail('empty', 'Access token is empty.');
    let jwt: DecodedJwt;
    try {
      jwt = decodeJwt(raw);
    } catch {
      return fail('malformed', 'CompactToken parsing failed with error code: 80049217');
    }
    if (jwt.header.kid !== signingKeyId || !verifyJwtSignature(jwt, signingCert.publicKey))
      return fail('signature', 'Access token validation failure.');
    const claims = jwt.payload;
    const t = now();
    if (typeof claims.exp !== 'number' || t > claims.exp * 1000 + skewMs)
      return fail('expired', 'Lifetime validation failed, the token is expired.');
    if (typeof claims.nbf === 'number' && claims.nbf * 1000 > t + skewMs)
      return fail('notYetValid', 'Access token has expired or is not yet valid.');
    if (!audiencesOf(resource).has(String(claims.aud).toLowerCase()))
      return fail('audience', 'Access token validation failure. Invalid audience.');
    if (claims.iss !== issuer || claims.tid !== tenantId)
      return fail('issuer', 'Access token validation failure. Invalid issuer.');
    const roles = Array.isArray(claims.roles)
      ? claims.roles.filter((r): r is string => typeof r === 'string')
      : [];
    return { ok: true, appId: String(claims.appid), tenantId, roles, claims };
  }

  return {
    handle,
    authenticate,
    issueAccessToken(clientId, resource = GRAPH_RESOURCE) {
      const app = apps.get(clientId.toLowerCase());
      if (!app) throw new Error(`no app registration with client id ${clientId}`);
      return issueAccessToken(app, RESOURCES.get(resource.toLowerCase()) ?? resource, false);
    },
    addApp,
    removeApp: (clientId) => apps.delete(clientId.toLowerCase()),
    signingKeyId,
  };
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** RFC 6749 §2.3.1: `Basic base64(urlencode(client_id):urlencode(secret))`. */
function parseBasic(authorization: string | undefined): { clientId: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const unescape = (s: string) => {
    try {
      return decodeURIComponent(s.replace(/\+/g, ' '));
    } catch {
      return s;
    }
  };
  return { clientId: unescape(decoded.slice(0, colon)), secret: unescape(decoded.slice(colon + 1)) };
}

/** The audiences Graph (or another resource) accepts in a token. */
function audiencesOf(resource: string): Set<string> {
  const r = resource.toLowerCase().replace(/\/$/, '');
  return r === GRAPH_RESOURCE
    ? new Set([GRAPH_RESOURCE, `${GRAPH_RESOURCE}/`, GRAPH_APP_ID])
    : new Set([r, `${r}/`]);
}

/** Graph's 401 envelope (`InvalidAuthenticationToken`) with its `WWW-Authenticate` challenge. */
function graphUnauthorized(message: string, requestId: string, origin: string, nowMs: number): EmuResponse {
  return {
    status: 401,
    headers: {
      'Content-Type': 'application/json',
      'WWW-Authenticate': `Bearer realm="", authorization_uri="${origin}/common/oauth2/authorize", client_id="${GRAPH_APP_ID}"`,
      'request-id': requestId,
      'client-request-id': requestId,
    },
    body: {
      error: {
        code: 'InvalidAuthenticationToken',
        message,
        innerError: {
          date: new Date(nowMs).toISOString().replace(/\.\d+Z$/, ''),
          'request-id': requestId,
          'client-request-id': requestId,
        },
      },
    },
  };
}
