import { randomBytes, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import { handleBatch } from './batch.js';
import { createCertificateAuthority, type CertificateAndKey } from './ca.js';
import type { DeltaLimits } from './delta.js';
import { Faults, parseFaultSpec, type FaultRule, type Latency } from './faults.js';
import { generateTenant, type GenerateOptions } from './generate.js';
import { graphError } from './graph-error.js';
import { mergeHeaders } from './headers.js';
import { routeGraph, type GraphContext } from './graph-router.js';
import { JsonText, type EmuHandler, type EmuRequest, type EmuResponse } from './http-types.js';
import {
  createIdentityPlatform,
  type AppRegistration,
  type AuthResult,
  type FederatedCredential,
  type IdentityPlatform,
} from './identity.js';
import { TokenCodec } from './state-token.js';
import { DirectoryStore } from './store.js';
import { loadTenant, TenantApi, type TenantData } from './tenant.js';
import { requestCost, Throttle, type ThrottleOptions } from './throttle.js';
import { startCyberArk, type CyberArkEmulator, type CyberArkOptions } from './cyberark.js';
import { createKeyVault, type KeyVaultEmulator, type KeyVaultOptions } from './key-vault.js';
import {
  startManagedIdentity,
  type ManagedIdentityEndpoint,
  type ManagedIdentityOptions,
} from './managed-identity.js';

/** Every application permission the emulator knows; the default app gets them all. */
export const ALL_ROLES = [
  'User.Read.All',
  'User.ReadWrite.All',
  'Group.Read.All',
  'Group.ReadWrite.All',
  'GroupMember.Read.All',
  'GroupMember.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
  'Application.Read.All',
  'Application.ReadWrite.All',
  'RoleManagement.Read.Directory',
  'RoleManagement.ReadWrite.Directory',
  'OrgContact.Read.All',
  'Device.Read.All',
  'Organization.Read.All',
  'User.Invite.All',
];

export interface EmulatorOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** Tenant data (see samples/tenant.json); ignored when `generate` is given. */
  tenant?: TenantData;
  /** A generated tenant instead. */
  generate?: Omit<GenerateOptions, 'clientId'>;
  tenantId?: string;
  domains?: string[];
  clientId?: string;
  clientSecret?: string;
  /** Permissions of the default app (all by default). */
  roles?: string[];
  /** Certificate credentials (PEM) of the default app, besides its secret. */
  certificates?: string[];
  /** Federated identity credentials of the default app (workload identity federation). */
  federatedCredentials?: FederatedCredential[];
  /** More app registrations (other permissions, certificate credentials). */
  apps?: AppRegistration[];
  latency?: Partial<Latency>;
  faults?: FaultRule[] | string;
  /** Graph's throttling model; on by default. */
  throttle?: boolean | ThrottleOptions;
  deltaLimits?: Partial<DeltaLimits>;
  /** Access-token lifetime in seconds (default 3599). */
  tokenLifetimeSeconds?: number;
  /** Delta/state token lifetime (default 7 days). */
  deltaTokenLifetimeMs?: number;
  /** Seed of fault randomness. */
  seed?: number;
  /** More handlers (e.g. Key Vault, CyberArk), tried after Graph and the identity platform. */
  handlers?: EmuHandler[];
  /** Ask TLS clients for a certificate (mutual TLS endpoints); never required by Graph routes. */
  requestClientCertificate?: boolean;
  /** Entries kept in `requests` (default 100,000). */
  requestLogLimit?: number;
  /**
   * Keys and certificates to use instead of fresh ones (RSA keys take a while to make: tests share
   * one set): the CA, the server certificate it signed, and the token-signing certificate.
   */
  tls?: { caPem: string; server: CertificateAndKey; signingKey?: CertificateAndKey };
  /** Azure Key Vault secrets, always served under `/keyvault/<vault>/`: vaults to create at start. */
  keyVault?: KeyVaultOptions;
  /** A CyberArk CCP on its own mutual-TLS listener (certificate from this emulator's CA), when given. */
  cyberArk?: Omit<CyberArkOptions, 'tls'>;
  /** An App Service style managed-identity endpoint on its own HTTP listener, when given (all roles). */
  managedIdentity?: ManagedIdentityOptions;
}

export interface RequestLogEntry {
  time: number;
  method: string;
  /** Path and query, e.g. `/v1.0/users/delta?$skiptoken=...`. */
  path: string;
  status: number;
  ms: number;
  appId?: string;
  fault?: string;
}

export interface Emulator {
  /** `https://127.0.0.1:<port>` */
  url: string;
  /** `https://127.0.0.1:<port>/v1.0/` */
  graphUrl: string;
  /** `https://127.0.0.1:<port>/<tenantId>` */
  authority: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  /** The CA that signed the emulator's certificate: trust it (NODE_EXTRA_CA_CERTS or `ca`). */
  caPem: string;
  tenant: TenantApi;
  requests: RequestLogEntry[];
  faults: Faults;
  throttle: Throttle;
  identity: IdentityPlatform;
  /** The emulator's clock (tokens, delta-token expiry): advance it to age tokens. */
  clock: { now(): number; advance(ms: number): void };
  /** An `appsettings.agent.json` object pointing a connection at this emulator. */
  settings(connection?: string): Record<string, unknown>;
  /** Key Vault on this origin: `keyVault.url('<vault>')`, `setSecret`, `allow`. */
  keyVault: KeyVaultEmulator;
  /** The CyberArk CCP, when `options.cyberArk` was given. */
  cyberArk?: CyberArkEmulator;
  /** The managed-identity endpoint (`endpoint`, `header`, `clientId`, `env`), when asked for. */
  managedIdentity?: ManagedIdentityEndpoint;
  close(): Promise<void>;
}

/** The pace of a `trickle` fault's body: one byte per this many ms. */
const TRICKLE_MS = 1000;
const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const MAX_BODY = 4 * 1024 * 1024;

/** Starts the Graph + identity-platform emulator on 127.0.0.1 over HTTPS. */
export async function startEmulator(options: EmulatorOptions = {}): Promise<Emulator> {
  let offset = 0;
  const clock = { now: () => Date.now() + offset, advance: (ms: number) => void (offset += ms) };
  const tenantId = options.tenantId ?? options.tenant?.tenantId ?? randomUUID();
  const domains = options.domains ?? options.tenant?.domains ?? ['contoso.onmicrosoft.com'];
  const clientId = options.clientId ?? randomUUID();
  const clientSecret = options.clientSecret ?? `emu~${randomBytes(24).toString('base64url')}`;
  const store = new DirectoryStore({ tenantId, domains, now: clock.now });
  if (options.generate) generateTenant(store, { ...options.generate, clientId });
  else if (options.tenant) loadTenant(store, options.tenant);

  const ca = options.tls ? undefined : createCertificateAuthority();
  const caPem = options.tls?.caPem ?? ca!.caPem;
  const serverCert = options.tls?.server ?? ca!.issueServerCertificate({ hosts: ['127.0.0.1', 'localhost'] });
  let origin = '';
  const identity = createIdentityPlatform({
    tenantId,
    tenantDomains: domains,
    apps: [
      {
        clientId,
        displayName: 'entra-connector',
        secrets: [clientSecret],
        roles: options.roles ?? ALL_ROLES,
        ...(options.certificates ? { certificates: options.certificates } : {}),
        ...(options.federatedCredentials ? { federatedCredentials: options.federatedCredentials } : {}),
      },
      ...(options.apps ?? []),
    ],
    now: clock.now,
    origin: () => origin,
    ...(options.tokenLifetimeSeconds ? { tokenLifetimeSeconds: options.tokenLifetimeSeconds } : {}),
    ...(options.tls?.signingKey ? { signingKey: options.tls.signingKey } : {}),
  });
  const keyVault = createKeyVault({
    ...options.keyVault,
    identity,
    tenantId,
    origin: () => origin,
    now: clock.now,
  });
  const faults = new Faults(options.seed ?? 1);
  if (options.latency)
    faults.latency = { fixedMs: options.latency.fixedMs ?? 0, jitterMs: options.latency.jitterMs ?? 0 };
  if (options.faults)
    faults.add(...(typeof options.faults === 'string' ? parseFaultSpec(options.faults) : options.faults));
  let userCount = { at: 0, value: 0 };
  const throttle = new Throttle(
    typeof options.throttle === 'object' ? options.throttle : { enabled: options.throttle ?? true },
    () => {
      // Counting a million users per request would make the emulator the bottleneck: cache it.
      if (performance.now() - userCount.at > 5000)
        userCount = { at: performance.now(), value: store.count('user') };
      return userCount.value;
    },
  );
  const ctx: GraphContext = {
    store,
    codec: new TokenCodec(randomBytes(32)),
    instance: randomBytes(6).toString('base64url'),
    now: clock.now,
    limits: { objects: 200, links: 2000, scan: 5000, ...options.deltaLimits },
    tokenLifetimeMs: options.deltaTokenLifetimeMs ?? 7 * 24 * 3600 * 1000,
  };
  const requests: RequestLogEntry[] = [];
  const logLimit = options.requestLogLimit ?? 100_000;

  /** Graph's pipeline: status faults, authentication, throttling, routing. Also runs each $batch item. */
  async function graph(
    req: EmuRequest,
    inBatch: boolean,
  ): Promise<{ response: EmuResponse; appId?: string; fault?: string }> {
    const target = `${req.method} ${req.url.pathname}${req.url.search}`;
    const fault = inBatch ? faults.pick(target, 'graph', { inBatch }) : undefined;
    if (fault?.kind === 'status') return { response: statusFault(req, fault), fault: String(fault.status) };
    const auth = authenticate(req);
    if (!auth.ok) return { response: auth.response };
    const version = req.url.pathname.split('/')[1]!;
    if (req.url.pathname === `/${version}/$batch` && !inBatch) {
      if (req.method !== 'POST')
        return {
          response: graphError(req, 405, 'BadRequest', 'Only POST is allowed on $batch.'),
          appId: auth.appId,
        };
      const response = await handleBatch(req, version, async (item) => {
        const r = await graph({ ...item, requestId: randomUUID() }, true);
        log(item, r.response.status, 0, r.appId, r.fault);
        return r.response;
      });
      return { response, appId: auth.appId };
    }
    const decision = throttle.charge(
      auth.appId,
      tenantId,
      requestCost(req.method, req.url.pathname, req.url.searchParams),
    );
    if (!decision.ok) {
      const r = graphError(req, 429, 'TooManyRequests', 'Too many requests.', {
        ...decision.headers,
        'retry-after': String(decision.retryAfter),
      });
      return { response: r, appId: auth.appId, fault: 'throttled' };
    }
    const response = routeGraph(req, auth.roles, origin, ctx);
    response.headers = { ...decision.headers, ...response.headers };
    return { response, appId: auth.appId };
  }

  function log(req: EmuRequest, status: number, ms: number, appId?: string, fault?: string): void {
    requests.push({
      time: clock.now(),
      method: req.method,
      path: `${req.url.pathname}${req.url.search}`,
      status,
      ms,
      ...(appId ? { appId } : {}),
      ...(fault ? { fault } : {}),
    });
    if (requests.length > logLimit * 2) requests.splice(0, requests.length - logLimit);
  }

  /**
   * A client sends the same token with every request, and checking its RSA signature is the costliest
   * step of a delta page: remember tokens that passed until they expire. Failures are never cached.
   */
  const verified = new Map<string, { auth: AuthResult & { ok: true }; until: number }>();
  function authenticate(req: EmuRequest): AuthResult {
    const header = req.headers.authorization;
    const hit = header === undefined ? undefined : verified.get(header);
    if (hit && clock.now() < hit.until) return hit.auth;
    const auth = identity.authenticate(header, undefined, req.requestId);
    if (auth.ok && header !== undefined && typeof auth.claims.exp === 'number') {
      if (verified.size >= 1000) verified.clear();
      verified.set(header, { auth, until: auth.claims.exp * 1000 });
    }
    return auth;
  }

  async function serve(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = performance.now();
    const chunks: Buffer[] = [];
    let size = 0;
    // A request without Content-Length or Transfer-Encoding has no body (RFC 9112 §6.3).
    const hasBody =
      incoming.headers['content-length'] !== undefined || incoming.headers['transfer-encoding'] !== undefined;
    if (hasBody)
      for await (const chunk of incoming as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > MAX_BODY) {
          res.writeHead(413).end();
          return;
        }
        chunks.push(chunk);
      }
    const socket = incoming.socket as TLSSocket;
    const peer = options.requestClientCertificate ? socket.getPeerCertificate?.() : undefined;
    const req: EmuRequest = {
      method: incoming.method ?? 'GET',
      url: new URL(incoming.url ?? '/', origin),
      headers: incoming.headers,
      body: Buffer.concat(chunks),
      requestId: randomUUID(),
      ...(peer?.raw
        ? {
            clientCertificate: {
              fingerprint256: peer.fingerprint256,
              subject: JSON.stringify(peer.subject),
              raw: peer.raw,
            },
          }
        : {}),
    };
    const isGraph = /^\/(v1\.0|beta)(\/|$)/.test(req.url.pathname);
    const isToken = req.url.pathname.endsWith('/oauth2/v2.0/token');
    const fault = faults.pick(
      `${req.method} ${req.url.pathname}${req.url.search}`,
      isToken ? 'token' : 'graph',
    );
    const delay = faults.delay();
    if (delay > 0) await sleep(delay);
    if (fault?.kind === 'reset') {
      log(req, 0, performance.now() - started, undefined, 'reset');
      socket.destroy();
      return;
    }
    if (fault?.kind === 'hang') {
      log(req, 0, performance.now() - started, undefined, 'hang');
      return;
    }
    let answer: { response: EmuResponse; appId?: string; fault?: string };
    if (fault?.kind === 'status')
      answer = {
        response: isToken ? tokenOutage(req, fault) : statusFault(req, fault),
        fault: String(fault.status),
      };
    else if (isGraph) answer = await graph(req, false);
    else {
      let response = identity.handle(req);
      for (const h of [...(options.handlers ?? []), keyVault.handler]) response ??= await h(req);
      answer = {
        response:
          response ?? graphError(req, 404, 'NotFound', `No route for ${req.method} ${req.url.pathname}.`),
      };
    }
    const { response } = answer;
    const headers = mergeHeaders(
      {
        'request-id': req.requestId,
        'client-request-id':
          typeof req.headers['client-request-id'] === 'string'
            ? req.headers['client-request-id']
            : req.requestId,
        'x-ms-ags-diagnostic':
          '{"ServerInfo":{"DataCenter":"Emulator","Slice":"E","Ring":"1","ScaleUnit":"000","RoleInstance":"EMU01"}}',
      },
      // Graph's own answers carry these (json-batching.md shows them on every item).
      isGraph ? { 'Cache-Control': 'no-cache' } : undefined,
      response.headers,
    );
    let body: Buffer | undefined;
    let sent: (() => void) | undefined;
    if (fault?.kind === 'garbage') {
      body = Buffer.from('{"value":[{"id":"<html><body>upstream error');
      headers['Content-Type'] = JSON_TYPE;
    } else if (response.body instanceof JsonText) {
      body = response.body.bytes;
      sent = response.body.release;
      headers['Content-Type'] ??= JSON_TYPE;
    } else if (Buffer.isBuffer(response.body)) body = response.body;
    else if (typeof response.body === 'string') body = Buffer.from(response.body);
    else if (response.body !== undefined) {
      body = Buffer.from(JSON.stringify(response.body));
      headers['Content-Type'] ??= JSON_TYPE;
    }
    if (isGraph && headers['Content-Type']?.startsWith('application/json;odata'))
      headers['OData-Version'] = '4.0';
    if (body) headers['Content-Length'] = String(body.length);
    log(
      req,
      response.status,
      performance.now() - started,
      answer.appId,
      fault?.kind === 'status' ? answer.fault : (fault?.kind ?? answer.fault),
    );
    res.writeHead(fault?.kind === 'garbage' ? 200 : response.status, headers);
    if (fault?.kind === 'truncate' && body && body.length > 1) {
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => socket.destroy());
      return;
    }
    if (fault?.kind === 'trickle' && body && body.length > 1) {
      // A byte a second: never silent long enough for an idle timeout, and a page of a few KB takes
      // hours; the last byte never comes. Stops when the client gives up (or the emulator closes).
      const whole = body;
      let at = 0;
      const timer = setInterval(() => {
        if (at < whole.length - 1) res.write(whole.subarray(at, ++at));
      }, TRICKLE_MS);
      res.once('close', () => clearInterval(timer));
      return;
    }
    res.end(body, sent);
  }

  const server: Server = createServer(
    {
      cert: serverCert.certPem,
      key: serverCert.keyPem,
      requestCert: options.requestClientCertificate ?? false,
      rejectUnauthorized: false,
    },
    (incoming, res) => {
      serve(incoming, res).catch((error: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'Content-Type': JSON_TYPE });
        res.end(
          JSON.stringify({
            error: { code: 'InternalServerError', message: String((error as Error)?.message ?? error) },
          }),
        );
      });
    },
  );
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  origin = `https://127.0.0.1:${port}`;
  const cyberArk = options.cyberArk
    ? await startCyberArk({ ...options.cyberArk, tls: { caPem, server: serverCert } })
    : undefined;
  const managedIdentity = options.managedIdentity
    ? await startManagedIdentity({ roles: ALL_ROLES, ...options.managedIdentity, identity })
    : undefined;

  return {
    url: origin,
    graphUrl: `${origin}/v1.0/`,
    authority: `${origin}/${tenantId}`,
    tenantId,
    clientId,
    clientSecret,
    caPem,
    tenant: new TenantApi(store),
    requests,
    faults,
    throttle,
    identity,
    clock,
    settings: (connection = 'Contoso') => ({
      Connections: {
        [connection]: {
          ApplicationId: clientId,
          ApplicationKey: clientSecret,
          TenantId: tenantId,
          MicrosoftAuthorityPath: `${origin}/{0}`,
          MicrosoftGraphPathApi: `${origin}/v1.0/`,
        },
      },
    }),
    keyVault,
    ...(cyberArk ? { cyberArk } : {}),
    ...(managedIdentity ? { managedIdentity } : {}),
    close: async () => {
      await Promise.all([cyberArk?.close(), managedIdentity?.close()]);
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}

function statusFault(req: EmuRequest, fault: FaultRule): EmuResponse {
  const status = fault.status ?? 503;
  const headers: Record<string, string> =
    fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {};
  const [code, message] =
    status === 429
      ? ['TooManyRequests', 'Too many requests.']
      : status === 503
        ? ['serviceNotAvailable', 'The service is temporarily unavailable. Please retry later.']
        : status === 504
          ? ['GatewayTimeout', 'The gateway timed out.']
          : ['InternalServerError', 'An internal server error occurred.'];
  return graphError(req, status, code, message, headers);
}

/** The identity platform's answer during an outage. */
function tokenOutage(req: EmuRequest, fault: FaultRule): EmuResponse {
  return {
    status: fault.status ?? 503,
    headers: fault.retryAfter !== undefined ? { 'retry-after': String(fault.retryAfter) } : {},
    body: {
      error: 'temporarily_unavailable',
      error_description: `AADSTS90033: A transient error has occurred. Please try again.\r\nTrace ID: ${req.requestId}`,
      error_codes: [90033],
      timestamp: new Date()
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z'),
      trace_id: req.requestId,
      correlation_id: randomUUID(),
    },
  };
}
