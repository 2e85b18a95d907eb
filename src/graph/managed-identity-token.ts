import { AsyncLocalStorage } from 'node:async_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import {
  AuthError,
  LogLevel,
  ManagedIdentityApplication,
  type INetworkModule,
  type NetworkRequestOptions,
  type NetworkResponse,
} from '@azure/msal-node';
import { ToolError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { silentLogger, type Logger } from '../types.js';
import { requestJson } from './http-json.js';
import { isTlsTrustError, trustedCertificateAuthorities } from './https-trust.js';
import { retryDelay } from './retry-delay.js';
import type { TokenProvider } from './token.js';
import { msalLogLine } from './msal-log.js';

/**
 * Access tokens from the host's managed identity (App Service, Functions, Container Apps: the
 * `IDENTITY_ENDPOINT` + `IDENTITY_HEADER` protocol, api-version 2019-08-01) through msal-node's
 * `ManagedIdentityApplication`, behind the same `getToken()` as the client-credentials provider.
 *
 * Two msal-node facts shape this module (msal-node 7, `ManagedIdentityClient`, `AppService.ts`):
 * - msal reads IDENTITY_ENDPOINT and IDENTITY_HEADER from `process.env` itself, and picks its source
 *   (App Service, IMDS...) once per process;
 * - that source is a static that keeps the network client of the *first* ManagedIdentityApplication
 *   of the process, whatever client later instances are given.
 * So every instance made here gets one shared network client, and each token request tells it, through
 * an AsyncLocalStorage context, which environment to use: msal builds the request (api-version,
 * resource, client_id), and the client sends it to the endpoint and header of the env passed in by
 * the command (never `process.env` read here). In production the command passes `process.env`, so both
 * agree; a test must set the two variables in `process.env` before msal's first token request.
 */

export interface ManagedIdentityCredential {
  kind: 'managedIdentity';
  /** Client id of a user-assigned identity; the system-assigned identity when absent. */
  clientId?: string;
  /** The environment the command runs in (holds `IDENTITY_ENDPOINT` and `IDENTITY_HEADER`). */
  env: Record<string, string | undefined>;
}

export interface ManagedIdentityTokenProviderOptions {
  credential: ManagedIdentityCredential;
  /** One resource's `/.default` (or the bare resource), e.g. `https://vault.azure.net/.default`. */
  scope: string;
  /** Extra PEM CA for an https endpoint (App Service's is plain http on localhost). */
  ca?: string;
  logger?: Logger;
  /** Connection name, for the hints in error messages. */
  connection?: string;
  /** Retries of transient failures (network, 5xx, 429); default 3. */
  retries?: number;
  /** First retry delay, doubled each time; default 500 ms. */
  retryDelayMs?: number;
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
  /** Clock (epoch ms), for the renewal margin. */
  now?: () => number;
}

const APP_SERVICE_API_VERSION = '2019-08-01';
/** Renew this long before expiry (msal's own cache is a process-wide static: not relied on). */
const RENEW_MARGIN_MS = 5 * 60_000;

interface Exchange {
  url: string;
  status?: number;
  body?: Record<string, unknown>;
  error?: NodeJS.ErrnoException;
}

/** What one token request of one provider needs from the shared network client, and what it saw. */
interface CallContext {
  endpoint: URL;
  header: string;
  ca: string[] | undefined;
  timeoutMs: number;
  logger: Logger;
  used: boolean;
  exchange?: Exchange;
  /** msal replaces errors thrown by a network client with its own network_error: ours is kept here. */
  refusal?: ToolError;
}

const calls = new AsyncLocalStorage<CallContext>();

function refuse(ctx: CallContext | undefined, message: string): Promise<never> {
  const error = new ToolError('ERR_AUTH', message);
  if (ctx) ctx.refusal = error;
  return Promise.reject(error);
}

/** Sends msal's App Service request to the calling provider's endpoint, with its header. */
function send<T>(url: string, request?: NetworkRequestOptions): Promise<NetworkResponse<T>> {
  const ctx = calls.getStore();
  if (!ctx) return refuse(ctx, 'managed identity: token request outside createManagedIdentityTokenProvider');
  ctx.used = true;
  const asked = new URL(url);
  const headerNames = Object.keys(request?.headers ?? {}).map((h) => h.toLowerCase());
  if (
    asked.searchParams.get('api-version') !== APP_SERVICE_API_VERSION ||
    !headerNames.includes('x-identity-header')
  )
    return refuse(
      ctx,
      `msal-node chose a managed-identity source other than App Service (${asked.origin}${asked.pathname}): it reads ` +
        'IDENTITY_ENDPOINT and IDENTITY_HEADER from the process environment, where both must be set before its first token request',
    );
  const target = new URL(ctx.endpoint);
  for (const [name, value] of asked.searchParams) target.searchParams.set(name, value);
  const exchange: Exchange = { url: `${target.origin}${target.pathname}` };
  ctx.exchange = exchange;
  const headers = { 'X-IDENTITY-HEADER': ctx.header, accept: 'application/json' };
  return requestJson(target, {
    method: 'GET',
    headers,
    agent: false,
    ...(ctx.ca ? { ca: ctx.ca } : {}),
    timeoutMs: ctx.timeoutMs,
  }).then(
    (answer) => {
      const { status, statusMessage, json } = answer;
      let body: Record<string, unknown> = {};
      if (json && typeof json === 'object' && !Array.isArray(json)) body = json as Record<string, unknown>;
      // msal raises a ServerError only when it sees error fields: give it one for bare failures.
      if (status >= 400 && body.message === undefined && body.error === undefined)
        body = {
          ...body,
          error: 'managed_identity_error',
          error_description: `HTTP ${status} ${statusMessage}`.trim(),
        };
      if (typeof body.access_token === 'string') registerSecret(body.access_token);
      Object.assign(exchange, { status, body });
      return { status, headers: answer.headers, body: body as T };
    },
    (error: NodeJS.ErrnoException) => {
      exchange.error = error;
      throw error;
    },
  );
}

/** The network client of every ManagedIdentityApplication made here (msal keeps the first one's). */
const sharedNetworkClient: INetworkModule = {
  sendGetRequestAsync: send,
  sendPostRequestAsync: () =>
    refuse(calls.getStore(), 'managed identity: only the App Service (GET) protocol is supported'),
};

function invalidOption(name: string, problem: string): UsageError {
  return new UsageError(
    'ERR_INVALID_OPTION',
    `createManagedIdentityTokenProvider: option ${name} ${problem}`,
  );
}

/**
 * Creates a token provider for a managed identity.
 * @example
 * const tokens = createManagedIdentityTokenProvider({
 *   credential: { kind: 'managedIdentity', env: process.env }, scope: 'https://graph.microsoft.com/.default' });
 * const bearer = await tokens.getToken();
 */
export function createManagedIdentityTokenProvider(
  options: ManagedIdentityTokenProviderOptions,
): TokenProvider {
  const { credential } = options;
  if (!options.scope) throw invalidOption('scope', 'is empty');
  const endpointText = credential.env.IDENTITY_ENDPOINT;
  const header = credential.env.IDENTITY_HEADER;
  if (!endpointText || !header)
    throw new UsageError(
      'ERR_SETTINGS',
      `managed identity is not available here: ${!endpointText ? 'IDENTITY_ENDPOINT' : 'IDENTITY_HEADER'} is not set ` +
        '(App Service, Functions and Container Apps set IDENTITY_ENDPOINT and IDENTITY_HEADER when an identity is enabled)',
    );
  let endpoint: URL;
  try {
    endpoint = new URL(endpointText);
  } catch {
    throw new UsageError('ERR_SETTINGS', `managed identity: IDENTITY_ENDPOINT is not a URL: ${endpointText}`);
  }
  if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:')
    throw new UsageError(
      'ERR_SETTINGS',
      `managed identity: IDENTITY_ENDPOINT must be an http(s) URL: ${endpointText}`,
    );
  registerSecret(header);
  const logger = options.logger ?? silentLogger;
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const now = options.now ?? Date.now;
  const ca = trustedCertificateAuthorities(options.ca);
  const who = credential.clientId
    ? `user-assigned managed identity ${credential.clientId}`
    : 'the system-assigned managed identity';
  const app = new ManagedIdentityApplication({
    ...(credential.clientId
      ? { managedIdentityIdParams: { userAssignedClientId: credential.clientId } }
      : {}),
    system: {
      networkClient: sharedNetworkClient,
      // Our retry loop reports each failure; msal's would wait silently (and retries 404 too).
      disableInternalRetries: true,
      loggerOptions: {
        logLevel: LogLevel.Warning,
        piiLoggingEnabled: false,
        loggerCallback: (_level, message) => {
          const line = msalLogLine(message);
          if (line) calls.getStore()?.logger.verbose(line);
        },
      },
    },
  });

  let cached: { token: string; expiresOn: number } | undefined;
  let pending: Promise<string> | undefined;

  async function acquire(): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      const ctx: CallContext = {
        endpoint,
        header: header!,
        ca,
        timeoutMs: options.timeoutMs ?? 30_000,
        logger,
        used: false,
      };
      try {
        // Always from the endpoint: msal's cache is a process-wide static shared by every instance.
        const result = await calls.run(ctx, () =>
          app.acquireToken({ resource: options.scope, forceRefresh: true }),
        );
        if (!ctx.used)
          throw new ToolError(
            'ERR_AUTH',
            'managed identity: msal-node used the network client of another ManagedIdentityApplication created earlier in ' +
              'this process (it keeps the first one for all): create them only through createManagedIdentityTokenProvider',
          );
        if (!result?.accessToken) throw new Error('msal returned no access token');
        registerSecret(result.accessToken);
        cached = { token: result.accessToken, expiresOn: result.expiresOn?.getTime() ?? now() + 60_000 };
        return result.accessToken;
      } catch (error) {
        if (error instanceof ToolError) throw error;
        if (ctx.refusal) throw ctx.refusal;
        if (attempt >= retries || !isTransient(ctx.exchange))
          throw authError(error, ctx.exchange, attempt + 1);
        const wait = retryDelay({ attemptCount: attempt + 1, retryPolicy: { backoffMs: retryDelayMs } });
        logger.verbose(
          `managed identity token request failed (${describe(ctx.exchange)}); retry ${attempt + 1} of ${retries} in ${wait} ms`,
        );
        await delay(wait);
      }
    }
  }

  function authError(error: unknown, exchange: Exchange | undefined, attempts: number): ToolError {
    const where = options.connection ? ` for connection "${options.connection}"` : '';
    const resource = options.scope.replace(/\/\.default$/, '');
    const at = exchange?.url ?? `${endpoint.origin}${endpoint.pathname}`;
    const head = `cannot get an access token for ${resource}${where} from ${who} at ${at}`;
    const message = typeof exchange?.body?.message === 'string' ? exchange.body.message : undefined;
    const description =
      typeof exchange?.body?.error_description === 'string' ? exchange.body.error_description : undefined;
    const context = [
      exchange?.status ? `status: ${exchange.status}` : '',
      attempts > 1 ? `attempts: ${attempts}` : '',
    ];
    let text: string;
    if (isTlsTrustError(exchange?.error))
      text = `${head}: the endpoint's certificate is not trusted (${exchange?.error?.code})`;
    else if (exchange?.error)
      text = `${head}: ${exchange.error.code ?? 'network error'}: ${exchange.error.message} (is the identity endpoint running?)`;
    else if (exchange?.status === 401 || exchange?.status === 403)
      text =
        `${head}: HTTP ${exchange.status}${message ? `: ${message}` : ''} ` +
        '(IDENTITY_HEADER does not match: the platform rotates it, so use the current environment)';
    else if (message && /Unable to load the proper Managed Identity/i.test(message))
      text =
        `${head}: ${message} Check that the identity is assigned to this host` +
        (credential.clientId
          ? ' and that its client id is right'
          : ' (or give the client id of a user-assigned one)');
    else if (message ?? description) text = `${head}: HTTP ${exchange?.status}: ${message ?? description}`;
    else
      text = `${head}: ${error instanceof AuthError ? `${error.errorCode}: ${error.errorMessage}` : String(error)}`;
    return new ToolError('ERR_AUTH', text, { context: context.filter(Boolean), cause: error });
  }

  return {
    getToken(opts = {}) {
      if (!opts.forceRefresh && cached && cached.expiresOn - now() > RENEW_MARGIN_MS)
        return Promise.resolve(cached.token);
      pending ??= acquire().finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

function isTransient(exchange: Exchange | undefined): boolean {
  if (!exchange) return false;
  if (exchange.error) return !isTlsTrustError(exchange.error) && exchange.error.code !== 'ENOTFOUND';
  const status = exchange.status ?? 0;
  return status >= 500 || status === 429;
}

function describe(exchange: Exchange | undefined): string {
  if (exchange?.error) return exchange.error.code ?? exchange.error.message;
  return exchange?.status ? `HTTP ${exchange.status}` : 'no answer';
}
