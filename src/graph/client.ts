import { setMaxListeners } from 'node:events';
import { Agent } from 'node:https';
import tls from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import got, { type Got, type Method, ReadError, RequestError, TimeoutError } from 'got';
import { GraphHttpError, ToolError, UsageError } from '../errors.js';
import { redact } from '../redact.js';
import { silentLogger, type Logger } from '../types.js';
import { graphErrorOf } from './graph-error.js';
import { isTlsTrustError, trustedCertificateAuthorities } from './https-trust.js';
import { isTransientStatus, retryDelay } from './retry-delay.js';

/**
 * The one Graph client of a run: got with a bearer hook, CA trust, timeouts and our own bounded
 * retry loop (429/503/504, 500 a few times for reads, network errors and truncated bodies, honouring `Retry-After`, else
 * jittered exponential backoff), keeping Graph's `request-id` for errors.
 */
export interface GraphClientOptions {
  /** Graph base URL, e.g. `https://graph.microsoft.com/v1.0/`. */
  baseUrl: string;
  getToken: (options?: { forceRefresh?: boolean }) => Promise<string>;
  /** Extra PEM CA to trust besides the system roots (the emulator's); never disables verification. */
  ca?: string;
  logger?: Logger;
  /** Retries per request (default 8). */
  retries?: number;
  /** Time to the response headers, then between body chunks (default 60 s). */
  timeoutMs?: number;
  /**
   * Time from the start of a request to the end of its answer's body (default 300 s): a deadline a
   * server trickling a byte now and then cannot push back, retried as a timeout is (reads only).
   */
  answerTimeoutMs?: number;
  /** First backoff delay (default 500 ms), doubled per attempt, capped at 30 s. */
  backoffMs?: number;
  /** The longest Retry-After honoured before giving up (default 120 s). */
  maxRetryAfterMs?: number;
  /** Concurrent sockets (default 16). */
  maxSockets?: number;
  /** Injectable delay for tests. */
  delay?: (ms: number) => Promise<void>;
}

export interface GraphResponse<T = any> {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: T;
  /** Length of the body as received, in characters (to size buffers by bytes). */
  size?: number;
}

export interface RequestOptions {
  json?: unknown;
  headers?: Record<string, string>;
  /**
   * Which failures to retry: `idempotent` (default for GET/DELETE) retries everything transient;
   * `throttled` (default for POST/PATCH) retries only answers that say the request was not done (429,
   * 503 with Retry-After); `never` returns the first answer.
   */
  retry?: 'idempotent' | 'throttled' | 'never';
  /** Return error statuses instead of throwing (the batch writer inspects them). */
  throwHttpErrors?: boolean;
  /** Called with every attempt's status and headers (a retried 429 too), e.g. by `--parallel auto`. */
  onAnswer?: (answer: { status?: number; headers: GraphResponse['headers'] }) => void;
}

export interface ClientStats {
  requests: number;
  retries: number;
  throttled: number;
  waitedMs: number;
  /** Resource units Graph charged, summed from `x-ms-resource-unit`. */
  resourceUnits: number;
}

export interface GraphClient {
  request<T = any>(method: Method, url: string, options?: RequestOptions): Promise<GraphResponse<T>>;
  get<T = any>(url: string, options?: RequestOptions): Promise<GraphResponse<T>>;
  readonly stats: ClientStats;
  readonly baseUrl: string;
  /** Frees the sockets; requests in flight or waiting to retry fail with ERR_GRAPH_CLOSED. */
  close(): void;
}

const TRANSIENT_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN',
  'ENOTFOUND',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE',
]);

/** `Retry-After` in seconds or as an HTTP date, in ms. */
export function retryAfterMs(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (!v) return undefined;
  if (/^\d+(\.\d+)?$/.test(v.trim())) return Number(v) * 1000;
  const date = Date.parse(v);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** A URL safe to print: no query-string secrets (Graph URLs carry none, but state tokens are long). */
export function printableUrl(url: string): string {
  return redact(url.replace(/(\$(?:skip|delta)token=)([^&]{12})[^&]+/, '$1$2…'));
}

export function createGraphClient(options: GraphClientOptions): GraphClient {
  if (!/^https:\/\/[^/]+\/.*\/$/.test(options.baseUrl))
    throw new UsageError(
      'ERR_INVALID_OPTION',
      `createGraphClient: baseUrl must be an https URL ending in '/', got '${options.baseUrl}'`,
    );
  const log = options.logger ?? silentLogger;
  const retries = options.retries ?? 8;
  const timeout = options.timeoutMs ?? 60_000;
  const answerTimeout = options.answerTimeoutMs ?? 300_000;
  const backoff = options.backoffMs ?? 500;
  const maxRetryAfter = options.maxRetryAfterMs ?? 120_000;
  // close() aborts requests in flight and waits between retries: a run that stops early (an error,
  // `| head`, Ctrl-C) must not keep a prefetched page retrying in the background.
  const closing = new AbortController();
  // Every request in flight listens for close(): many at once is normal, not a leak.
  setMaxListeners(0, closing.signal);
  const delay = options.delay ?? ((ms: number) => sleep(ms, undefined, { signal: closing.signal }));
  const closedError = (method: string, url: string) =>
    new ToolError('ERR_GRAPH_CLOSED', `${method} ${printableUrl(url)} stopped: the Graph client was closed`);
  /** `promise`, or `stopped()` as soon as the client is closed. */
  const untilClosed = <T>(promise: Promise<T>, stopped: () => Error): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(stopped());
      if (closing.signal.aborted) return onAbort();
      closing.signal.addEventListener('abort', onAbort, { once: true });
      promise.then(resolve, reject).finally(() => closing.signal.removeEventListener('abort', onAbort));
    });
  const ca = trustedCertificateAuthorities(options.ca);
  // One TLS context for every socket. Given a `ca`, Node builds a context per connection, parsing
  // Node's ~140 roots each time: about 1.5 MB of native memory per socket (40-55 MB of peak RSS with
  // the parallel mode's sockets, measured) and CPU for every new connection.
  const secureContext = ca ? tls.createSecureContext({ ca }) : undefined;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: options.maxSockets ?? 16,
    ...(secureContext ? { secureContext } : {}),
  });
  const stats: ClientStats = { requests: 0, retries: 0, throttled: 0, waitedMs: 0, resourceUnits: 0 };
  const http: Got = got.extend({
    agent: { https: agent },
    retry: { limit: 0 },
    throwHttpErrors: false,
    followRedirect: false,
    timeout: {
      connect: Math.min(15_000, timeout),
      secureConnect: Math.min(15_000, timeout),
      response: timeout,
      socket: timeout,
      // The whole answer, body included: the idle timeouts above never fire on a trickling body.
      request: answerTimeout,
    },
    headers: { 'user-agent': 'entra-connector', accept: 'application/json' },
  });

  async function request<T>(
    method: Method,
    url: string,
    opts: RequestOptions = {},
  ): Promise<GraphResponse<T>> {
    const absolute = new URL(url, options.baseUrl).toString();
    const policy = opts.retry ?? (method === 'GET' || method === 'DELETE' ? 'idempotent' : 'throttled');
    let refusedToken: string | undefined;
    let refreshed = false;
    // Backoffs so far: the exponent grows only with failures that named no wait, so a reset after a
    // few honoured Retry-Afters waits half a second, not half a minute.
    let backoffs = 0;
    for (let attempt = 0; ; attempt++) {
      if (closing.signal.aborted) throw closedError(method, absolute);
      stats.requests++;
      const started = performance.now();
      let status: number | undefined;
      let headers: GraphResponse['headers'] = {};
      let body: unknown;
      let size = 0;
      let failure: Error | undefined;
      let token: string | undefined;
      try {
        token = await options.getToken(refusedToken !== undefined ? { forceRefresh: true } : undefined);
        // A concurrent caller's acquisition may have answered with the refused token from the cache.
        if (token === refusedToken) token = await options.getToken({ forceRefresh: true });
        refusedToken = undefined;
        const response = await http(absolute, {
          method,
          headers: { authorization: `Bearer ${token}`, ...opts.headers },
          ...(opts.json !== undefined ? { json: opts.json } : {}),
          responseType: 'buffer',
          signal: closing.signal,
        });
        status = response.statusCode;
        headers = response.headers;
        const text = response.body.toString('utf8');
        size = text.length;
        if (text.length) {
          try {
            body = JSON.parse(text);
          } catch (e) {
            // A truncated or garbled body: the answer cannot be trusted, whatever its status.
            failure = new ToolError(
              'ERR_GRAPH_RESPONSE',
              `Graph sent a body that is not JSON (${text.length} bytes)`,
              { cause: e },
            );
          }
        }
      } catch (e) {
        if (closing.signal.aborted) throw closedError(method, absolute);
        if (e instanceof ToolError) throw e;
        const code = (e as NodeJS.ErrnoException).code;
        if (isTlsTrustError(e as NodeJS.ErrnoException))
          throw new UsageError(
            'ERR_TLS',
            `TLS certificate of ${new URL(absolute).host} is not trusted (${code}); trust its CA with NODE_EXTRA_CA_CERTS`,
            { cause: e },
          );
        failure =
          e instanceof TimeoutError && e.event === 'request'
            ? new ToolError(
                'ERR_GRAPH_NETWORK',
                `no whole answer within ${answerTimeout / 1000} s (ETIMEDOUT)`,
                { cause: e },
              )
            : e instanceof ReadError
              ? // The headers came, the body was cut short: like a garbled body, an answer not to trust.
                new ToolError('ERR_GRAPH_RESPONSE', `Graph's answer was cut short (${code ?? e.message})`, {
                  cause: e,
                })
              : (e as Error);
        if (!(e instanceof RequestError) && !TRANSIENT_CODES.has(code ?? '')) throw e;
      }
      const ms = performance.now() - started;
      const ru = Number(headers['x-ms-resource-unit']);
      if (Number.isFinite(ru)) stats.resourceUnits += ru;
      opts.onAnswer?.({ ...(status !== undefined ? { status } : {}), headers });
      log.verbose(
        `${method} ${printableUrl(absolute)} ${status ?? (failure as NodeJS.ErrnoException)?.code ?? 'error'} ${ms.toFixed(0)} ms`,
      );

      if (status === 401 && !refreshed && graphErrorOf(body).code === 'InvalidAuthenticationToken') {
        // A token that expired in flight (or clocks that disagree): ask the token endpoint for a new one, once.
        refreshed = true;
        refusedToken = token;
        continue;
      }
      const transient =
        failure !== undefined
          ? policy === 'idempotent'
          : status !== undefined && isTransientStatus(status, attempt + 1);
      const allowed =
        transient &&
        (policy === 'idempotent' ||
          (policy === 'throttled' &&
            (status === 429 || (status === 503 && headers['retry-after'] !== undefined))));
      if (allowed && attempt < retries) {
        const after = status !== undefined ? retryAfterMs(headers['retry-after']) : undefined;
        if (after !== undefined && after > maxRetryAfter) {
          throw new GraphHttpError(`Graph asked to wait ${Math.round(after / 1000)} s, longer than allowed`, {
            status: status!,
            method,
            url: printableUrl(absolute),
          });
        }
        const wait = retryDelay({
          attemptCount: after === undefined ? ++backoffs : backoffs + 1,
          retryAfter: after,
          retryPolicy: { backoffMs: backoff, maxBackoffMs: 30_000, jitter: true },
        });
        if (status === 429) stats.throttled++;
        stats.retries++;
        stats.waitedMs += wait;
        log.verbose(`  retry ${attempt + 1}/${retries} in ${(wait / 1000).toFixed(1)} s`);
        try {
          await untilClosed(delay(wait), () => closedError(method, absolute));
        } catch (e) {
          if (closing.signal.aborted) throw closedError(method, absolute);
          throw e;
        }
        continue;
      }
      if (failure) {
        const why =
          failure instanceof ToolError
            ? failure.message
            : ((failure as NodeJS.ErrnoException).code ?? failure.message);
        throw new ToolError(
          failure instanceof ToolError ? failure.code : 'ERR_GRAPH_NETWORK',
          `${method} ${printableUrl(absolute)} failed${attempt ? ` after ${attempt + 1} attempts` : ''}: ${why}`,
          { cause: failure },
        );
      }
      if (status! >= 400 && opts.throwHttpErrors !== false) {
        const g = graphErrorOf(body);
        const requestId = headers['request-id'];
        throw new GraphHttpError(`Graph answered ${status}${g.message ? `: ${g.message}` : ''}`, {
          status: status!,
          ...(g.code ? { graphCode: g.code } : {}),
          ...(typeof requestId === 'string' ? { requestId } : {}),
          method,
          url: printableUrl(absolute),
        });
      }
      return { status: status!, headers, body: body as T, size };
    }
  }

  return {
    request,
    get: (url, opts) => request('GET', url, opts),
    stats,
    baseUrl: options.baseUrl,
    close: () => {
      closing.abort();
      agent.destroy();
    },
  };
}
