import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { AuthError, ConfidentialClientApplication, LogLevel, type NodeAuthOptions } from '@azure/msal-node';
import { ToolError, UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import { silentLogger, type Logger } from '../types.js';
import { createHttpsNetworkClient, isTlsTrustError, type HttpExchange } from './https-trust.js';
import { retryDelay } from './retry-delay.js';
import { msalLogLine } from './msal-log.js';

/**
 * The connector's access-token provider: msal-node's client-credentials flow behind `getToken()`.
 * msal caches the token and renews it when it nears expiry; this module adds CA trust, retries of
 * transient token-endpoint failures, and one clear `ERR_AUTH` error for everything else.
 */

export type TokenCredential =
  | { kind: 'secret'; secret: string }
  | { kind: 'certificate'; privateKeyPem: string; certificatePem: string; privateKeyPassphrase?: string }
  | { kind: 'assertion'; getAssertion: () => Promise<string> };

export interface TokenProviderOptions {
  /** `https://login.microsoftonline.com/<tenant>` or, for the emulator, `https://127.0.0.1:4321/<tenant>`. */
  authority: string;
  clientId: string;
  credential: TokenCredential;
  /** One resource's `/.default`, e.g. `https://graph.microsoft.com/.default`. */
  scope: string;
  /** Extra PEM CA trusted in addition to the system roots (never instead of them). */
  ca?: string;
  logger?: Logger;
  /** Connection name, for the hints in error messages. */
  connection?: string;
  /** Retries of transient failures (network, 5xx, 429); default 4. */
  retries?: number;
  /** First retry delay, doubled each time; default 500 ms. */
  retryDelayMs?: number;
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
}

export interface TokenProvider {
  /**
   * A valid access token: from msal's cache when fresh, from the token endpoint otherwise, or always
   * from the endpoint with `forceRefresh` (after Graph said a token had expired).
   */
  getToken(options?: { forceRefresh?: boolean }): Promise<string>;
}

/** Authority hosts msal-node knows itself; any other host must be listed in `knownAuthorities`. */
const MICROSOFT_HOSTS = new Set([
  'login.microsoftonline.com',
  'login.microsoft.com',
  'login.windows.net',
  'sts.windows.net',
  'login.microsoftonline.us',
  'login.usgovcloudapi.net',
  'login-us.microsoftonline.com',
  'login.chinacloudapi.cn',
  'login.partner.microsoftonline.cn',
]);
const MAX_RETRY_AFTER_MS = 30_000;

function invalidOption(name: string, problem: string, cause?: unknown): UsageError {
  return new UsageError('ERR_INVALID_OPTION', `createTokenProvider: option ${name} ${problem}`, { cause });
}

function checkAuthority(authority: string): URL {
  let url: URL;
  try {
    url = new URL(authority);
  } catch (error) {
    throw invalidOption('authority', `is not a URL: ${JSON.stringify(authority)}`, error);
  }
  // msal-node rejects non-https authorities (authority_uri_insecure) and tenant-less ones for this flow.
  if (url.protocol !== 'https:') throw invalidOption('authority', `must use https: ${authority}`);
  const tenant = url.pathname.split('/').filter(Boolean)[0];
  if (!tenant || ['common', 'organizations', 'consumers'].includes(tenant.toLowerCase()))
    throw invalidOption(
      'authority',
      `must name a tenant (id or domain) as its first path segment: ${authority}`,
    );
  return url;
}

function credentialAuth(credential: TokenCredential): Partial<NodeAuthOptions> {
  switch (credential.kind) {
    case 'secret':
      if (!credential.secret) throw invalidOption('credential.secret', 'is empty');
      return { clientSecret: credential.secret };
    case 'assertion':
      return { clientAssertion: () => credential.getAssertion() };
    case 'certificate': {
      let cert: X509Certificate;
      try {
        cert = new X509Certificate(credential.certificatePem);
      } catch (error) {
        throw invalidOption('credential.certificatePem', 'is not a PEM certificate', error);
      }
      let privateKey: string;
      try {
        const key = createPrivateKey({
          key: credential.privateKeyPem,
          passphrase: credential.privateKeyPassphrase,
        });
        // msal-node wants PKCS#8 ("BEGIN PRIVATE KEY"); accept PKCS#1 and encrypted keys too.
        privateKey = key.export({ type: 'pkcs8', format: 'pem' }) as string;
        const spki = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
        if (!spki(createPublicKey(key)).equals(spki(cert.publicKey)))
          throw invalidOption('credential.privateKeyPem', 'does not belong to the certificate');
      } catch (error) {
        if (error instanceof UsageError) throw error;
        throw invalidOption(
          'credential.privateKeyPem',
          'is not a usable private key (or the passphrase is wrong)',
          error,
        );
      }
      const thumbprintSha256 = cert.fingerprint256.replaceAll(':', '').toLowerCase();
      return { clientCertificate: { thumbprintSha256, privateKey, x5c: credential.certificatePem } };
    }
  }
}

/**
 * Creates a token provider for the client-credentials flow.
 * @example
 * const tokens = createTokenProvider({ authority: `https://login.microsoftonline.com/${tenant}`, clientId,
 *   credential: { kind: 'secret', secret }, scope: 'https://graph.microsoft.com/.default' });
 * const bearer = await tokens.getToken();
 */
export function createTokenProvider(options: TokenProviderOptions): TokenProvider {
  const authorityUrl = checkAuthority(options.authority);
  if (!options.clientId) throw invalidOption('clientId', 'is empty');
  if (!options.scope) throw invalidOption('scope', 'is empty');
  if (options.ca !== undefined) {
    try {
      new X509Certificate(options.ca);
    } catch (error) {
      throw invalidOption('ca', 'is not a PEM certificate', error);
    }
  }
  const logger = options.logger ?? silentLogger;
  const retries = options.retries ?? 4;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const auth: NodeAuthOptions = {
    clientId: options.clientId,
    authority: options.authority,
    // Without this msal asks login.microsoftonline.com to validate a foreign host (instance discovery).
    ...(MICROSOFT_HOSTS.has(authorityUrl.hostname.toLowerCase())
      ? {}
      : { knownAuthorities: [authorityUrl.host] }),
    ...credentialAuth(options.credential),
  };
  const configuredSecret = options.credential.kind === 'secret' ? [options.credential.secret] : [];
  registerSecret(configuredSecret[0]);
  // Assertions sent lately (msal builds them for certificates): redacted from errors like the secret.
  let sentSecrets: string[] = [];

  let lastExchange: HttpExchange | undefined;
  // Our own node:https client even without `ca`: it times requests out (msal's fetch client has no
  // timeout on POST) and reports status and network errors, which decide whether to retry.
  const networkClient = createHttpsNetworkClient({
    ca: options.ca,
    timeoutMs: options.timeoutMs,
    onExchange(exchange) {
      lastExchange = exchange;
      const fresh = exchange.sentSecrets.filter((s) => !sentSecrets.includes(s));
      sentSecrets = [...sentSecrets, ...fresh].slice(-8);
    },
  });
  const build = () =>
    new ConfidentialClientApplication({
      auth,
      system: {
        networkClient,
        loggerOptions: {
          logLevel: LogLevel.Warning,
          piiLoggingEnabled: false,
          loggerCallback: (_level, message) => {
            const line = msalLogLine(message);
            if (line) logger.verbose(line);
          },
        },
      },
    });
  let client: ConfidentialClientApplication | undefined;
  let pending: Promise<string> | undefined;
  // The last token and until when msal itself would serve it from its cache: asking msal costs about
  // 0.3 ms of CPU a call (cache lookup, correlation id, logging), paid for every Graph request.
  let cached: { token: string; until: number } | undefined;

  async function acquire(skipCache: boolean): Promise<string> {
    for (let attempt = 0; ; attempt++) {
      lastExchange = undefined;
      client ??= build();
      try {
        const result = await client.acquireTokenByClientCredential({ scopes: [options.scope], skipCache });
        if (!result?.accessToken) throw new Error('msal returned no access token');
        registerSecret(result.accessToken);
        cached = { token: result.accessToken, until: reuseUntil(result.expiresOn, result.refreshOn) };
        return result.accessToken;
      } catch (error) {
        // A fresh client after any failure: msal keeps an in-memory throttle per client (Retry-After,
        // 429/5xx) that would answer the next calls without asking the token endpoint again.
        client = undefined;
        // Our own errors (an unreadable ClientAssertionFile) come back through msal as they were thrown.
        if (error instanceof ToolError) throw error;
        // Set by the network client's callback during the attempt (TypeScript cannot see that).
        const exchange = lastExchange as HttpExchange | undefined;
        if (attempt >= retries || !isTransient(exchange)) throw authError(error, exchange, attempt + 1);
        const retryAfter = Number(exchange?.headers?.['retry-after']);
        const wait = retryDelay({
          attemptCount: attempt + 1,
          retryAfter: Number.isFinite(retryAfter) ? retryAfter * 1000 : undefined,
          retryPolicy: { backoffMs: retryDelayMs, retryAfter: 'floor', maxDelayMs: MAX_RETRY_AFTER_MS },
        });
        logger.verbose(
          `token request failed (${describeFailure(exchange)}); retry ${attempt + 1} of ${retries} in ${wait} ms`,
        );
        await delay(wait);
      }
    }
  }

  // ERR_AUTH is a ToolError (exit 1), not a UsageError (exit 2): the token endpoint's verdict is found
  // at run time and changes without any edit here (secrets expire, consent and replication lag), while
  // exit 2 promises that the command line or settings were rejected before anything ran.
  function authError(error: unknown, exchange: HttpExchange | undefined, attempts: number): ToolError {
    const secrets = [...configuredSecret, ...sentSecrets];
    const redact = (text: string) =>
      secrets.reduce((t, s) => (s.length >= 4 ? t.split(s).join('***') : t), text);
    const where = options.connection ? ` for connection "${options.connection}"` : '';
    const head = `cannot get an access token${where} from ${options.authority}`;
    const aad = aadstsOf(exchange?.body) ?? aadstsOfMessage(error);
    const context = [
      exchange ? `request: ${exchange.method} ${exchange.url.split('?')[0]}` : '',
      exchange?.status ? `status: ${exchange.status}` : '',
      attempts > 1 ? `attempts: ${attempts}` : '',
    ].filter(Boolean);
    let message: string;
    if (aad) message = `${head}: ${aad.line}. ${hintFor(aad.code, options.credential.kind, where)}`;
    else if (isTlsTrustError(exchange?.error))
      message = `${head}: the server's certificate is not trusted (${exchange?.error?.code}); trust its CA with the CA option or NODE_EXTRA_CA_CERTS`;
    else if (exchange?.error)
      message = `${head}: ${exchange.error.code ?? 'network error'}: ${exchange.error.message}`;
    else if (exchange?.status && exchange.status >= 400) message = `${head}: HTTP ${exchange.status}`;
    else {
      const code = error instanceof AuthError ? `${error.errorCode}: ` : '';
      message = `${head}: ${code}${error instanceof AuthError ? error.errorMessage : String(error)}`;
    }
    const leaked = secrets.some((s) => s.length >= 4 && String((error as Error)?.message).includes(s));
    return new ToolError('ERR_AUTH', redact(message), {
      context: context.map(redact),
      cause: leaked ? undefined : error,
    });
  }

  return {
    getToken(opts = {}) {
      if (opts.forceRefresh) cached = undefined;
      else if (cached && Date.now() < cached.until) return Promise.resolve(cached.token);
      // Callers ask for a token per request; concurrent callers share one acquisition.
      pending ??= acquire(opts.forceRefresh ?? false).finally(() => {
        pending = undefined;
      });
      return pending;
    },
  };
}

/** msal's renewal margin: a cached token is renewed this long before it expires. */
const RENEW_BEFORE_MS = 300_000;

/**
 * Until when a token may be reused without asking msal: where msal would still answer from its cache
 * (`expiresOn` less its 300 s margin, and not past `refreshOn`); 0 (ask every time) without `expiresOn`.
 */
export function reuseUntil(expiresOn: Date | null | undefined, refreshOn?: Date | null): number {
  if (!expiresOn) return 0;
  const until = expiresOn.getTime() - RENEW_BEFORE_MS;
  return refreshOn ? Math.min(until, refreshOn.getTime()) : until;
}

/** Network errors (other than TLS trust and unknown hosts), 5xx, 429 and unreadable 2xx bodies are worth a retry. */
function isTransient(exchange: HttpExchange | undefined): boolean {
  if (!exchange) return false;
  if (exchange.error) return !isTlsTrustError(exchange.error) && exchange.error.code !== 'ENOTFOUND';
  if (exchange.invalidBody) return true;
  const status = exchange.status ?? 0;
  return status >= 500 || status === 429;
}

function describeFailure(exchange: HttpExchange | undefined): string {
  if (exchange?.error) return exchange.error.code ?? exchange.error.message;
  if (exchange?.invalidBody) return `HTTP ${exchange.status} with an unreadable body`;
  return exchange?.status ? `HTTP ${exchange.status}` : 'no answer';
}

/** The AADSTS code and the first line of Entra's `error_description`. */
function aadstsOf(body: unknown): { code: number; line: string } | undefined {
  const description = (body as { error_description?: unknown } | undefined)?.error_description;
  if (typeof description !== 'string') return undefined;
  const line = description.split(/\r?\n/)[0]!.trim();
  const match = /^AADSTS(\d+)\b/.exec(line);
  return match ? { code: Number(match[1]), line: line.replace(/\.$/, '') } : undefined;
}

/** Same, from msal's message (`... - Description: AADSTSnnnn: ...\r\nTrace ID ...`) when no body was seen. */
function aadstsOfMessage(error: unknown): { code: number; line: string } | undefined {
  const match = /(AADSTS\d+:[^\r\n]*?)(?:\r?\n| - Correlation ID:|$)/.exec(
    error instanceof Error ? error.message : '',
  );
  return match ? aadstsOf({ error_description: match[1] }) : undefined;
}

const HINTS: [number[], (kind: TokenCredential['kind'], where: string) => string][] = [
  [
    [7000215, 7000222],
    (_, w) =>
      `Check ApplicationKey${w}: it must be the secret's Value (not its Secret ID) and must not have expired`,
  ],
  [[7000216], (_, w) => `Set ApplicationKey or a certificate${w}`],
  [
    [700016],
    (_, w) => `Check ApplicationId and TenantId${w}: the app registration must exist in that tenant`,
  ],
  [[90002, 900023, 90013], (_, w) => `Check TenantId and MicrosoftAuthorityPath${w}`],
  [
    [1002012, 70011, 500011],
    (_, w) =>
      `Check MicrosoftGraphPath${w}: the scope must be one resource's /.default, e.g. https://graph.microsoft.com/.default`,
  ],
  [
    [700027, 700024, 700023, 700021, 50048, 50027, 5002738, 50012],
    (kind, w) =>
      kind === 'assertion'
        ? `Check the client assertion${w}: its issuer, audience, lifetime and signing key`
        : `Check CertificatePath, CertificatePassword and CertificateThumbprint${w}: the certificate must be the one uploaded to the app registration, unexpired, and the clock must be right`,
  ],
];

function hintFor(code: number, kind: TokenCredential['kind'], where: string): string {
  const hint = HINTS.find(([codes]) => codes.includes(code));
  return hint ? hint[1](kind, where) : `See https://login.microsoftonline.com/error?code=${code}`;
}
