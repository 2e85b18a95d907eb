import tls from 'node:tls';
import type { INetworkModule, NetworkRequestOptions, NetworkResponse } from '@azure/msal-node';
import { requestJson, type JsonAnswer } from './http-json.js';

/**
 * TLS trust for the connector's HTTPS clients, and an msal-node network client built on node:https.
 * An extra CA is always added to Node's bundled roots, never put in their place, and verification
 * is never turned off.
 */

/** One HTTP exchange as the network client saw it (no request body: it may hold a secret). */
export interface HttpExchange {
  method: 'GET' | 'POST';
  url: string;
  status?: number;
  headers?: Record<string, string>;
  /** Parsed JSON body (or a stand-in error object when the body was not JSON). */
  body?: unknown;
  /** The body of a 2xx answer was not JSON, or it was cut short. */
  invalidBody?: boolean;
  /** Network or TLS failure (no status). */
  error?: NodeJS.ErrnoException;
  /** Values of secret form fields sent (`client_secret`, `client_assertion`), so callers can redact them. */
  sentSecrets: string[];
}

export interface HttpsNetworkClientOptions {
  /** An extra PEM CA (or bundle) to trust besides Node's roots; Node's defaults (with NODE_EXTRA_CA_CERTS) otherwise. */
  ca?: string;
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
  /** Called after every exchange, successful or not. */
  onExchange?: (exchange: HttpExchange) => void;
  /** Largest body read; default 1 MiB. */
  maxBodyBytes?: number;
}

/** The CA list for node:https / got: Node's bundled roots plus `ca`, or undefined to keep Node's defaults. */
export function trustedCertificateAuthorities(ca?: string): string[] | undefined {
  return ca ? [...tls.rootCertificates, ca] : undefined;
}

const TLS_ERROR_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_SIGNATURE_FAILURE',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** True for certificate-verification failures (retrying cannot help; trusting the right CA can). */
export function isTlsTrustError(error: NodeJS.ErrnoException | undefined): boolean {
  return error?.code !== undefined && TLS_ERROR_CODES.has(error.code);
}

function secretsIn(body: string | undefined): string[] {
  if (!body) return [];
  const form = new URLSearchParams(body);
  return ['client_secret', 'client_assertion'].flatMap((name) => form.getAll(name)).filter(Boolean);
}

/**
 * An msal-node `INetworkModule` on node:https: trusts `ca` in addition to the system roots, times
 * requests out, reports each exchange, and always hands msal a JSON object body with lower-case headers.
 */
export function createHttpsNetworkClient(options: HttpsNetworkClientOptions = {}): INetworkModule {
  const ca = trustedCertificateAuthorities(options.ca);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const maxBodyBytes = options.maxBodyBytes ?? 1 << 20;

  async function send<T>(
    method: 'GET' | 'POST',
    url: string,
    request?: NetworkRequestOptions,
  ): Promise<NetworkResponse<T>> {
    const exchange: HttpExchange = { method, url, sentSecrets: secretsIn(request?.body) };
    const body = method === 'POST' ? Buffer.from(request?.body ?? '', 'utf8') : undefined;
    let answer: JsonAnswer;
    try {
      answer = await requestJson(url, {
        method,
        headers: { ...request?.headers },
        agent: false,
        ...(ca ? { ca } : {}),
        ...(body ? { body } : {}),
        timeoutMs,
        maxBodyBytes,
      });
    } catch (error) {
      exchange.error = error as NodeJS.ErrnoException;
      options.onExchange?.(exchange);
      throw error;
    }
    const { status, statusMessage, headers, json: parsed } = answer;
    const isObject = parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed);
    Object.assign(exchange, { status, headers });
    if (status >= 200 && status < 300 && !isObject) {
      exchange.invalidBody = true;
      options.onExchange?.(exchange);
      throw new Error(`${method} ${url} answered HTTP ${status} with a body that is not a JSON object`);
    }
    let json = (isObject ? parsed : {}) as Record<string, unknown>;
    // msal turns only error/error_description into a ServerError; give it one for bare HTTP failures.
    if (status >= 400 && json.error === undefined && json.error_description === undefined)
      json = {
        ...json,
        error: status >= 500 || status === 429 ? 'temporarily_unavailable' : 'invalid_request',
        error_description: `HTTP ${status} ${statusMessage}`.trim(),
      };
    exchange.body = json;
    options.onExchange?.(exchange);
    return { status, headers, body: json as T };
  }

  return {
    sendGetRequestAsync: <T>(url: string, request?: NetworkRequestOptions) => send<T>('GET', url, request),
    sendPostRequestAsync: <T>(url: string, request?: NetworkRequestOptions) => send<T>('POST', url, request),
  };
}
