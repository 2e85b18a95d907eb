import http from 'node:http';
import https from 'node:https';

/**
 * One HTTP(S) request whose answer is read whole and parsed as JSON: the small exchanges that do not go
 * through the Graph client (msal's token requests, managed identity, Key Vault, CyberArk). Callers pass
 * TLS options (`ca`, `key`, `cert`) and an agent as node:https takes them; verification stays on.
 */

/** An answer read whole. */
export interface JsonAnswer {
  status: number;
  statusMessage: string;
  /** Lower-case names; repeated values joined by `, `. */
  headers: Record<string, string>;
  /** The parsed body, or undefined when it is not JSON. */
  json: unknown;
}

export interface JsonRequestOptions extends https.RequestOptions {
  /** Sent as is, with its content-length. */
  body?: Buffer;
  /**
   * No whole answer within this time, from the start of the request, destroys it with an `ETIMEDOUT`
   * error: a deadline, not an idle timeout, which a server sending a byte now and then would never reach
   * (and which Node counts twice over a TLS handshake that never comes).
   */
  timeoutMs: number;
  /** A larger body destroys the request with an `EMSGSIZE` error; no limit by default. */
  maxBodyBytes?: number;
}

/**
 * Sends one request (over http: or https: by the URL) and resolves with its answer, whatever the
 * status; rejects only on network, TLS, timeout and size failures, with Node's error and code.
 * @example
 * const { status, json } = await requestJson(url, { method: 'GET', agent: false, ca, timeoutMs: 30_000 });
 */
export function requestJson(url: string | URL, options: JsonRequestOptions): Promise<JsonAnswer> {
  const { body, timeoutMs, maxBodyBytes = Infinity, ...requestOptions } = options;
  const headers = { ...requestOptions.headers };
  if (body) Object.assign(headers, { 'content-length': body.length });
  const protocol = new URL(url).protocol === 'http:' ? http : https;
  let deadline: NodeJS.Timeout | undefined;
  return new Promise<JsonAnswer>((resolve, reject) => {
    const req = protocol.request(url, { ...requestOptions, headers }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > maxBodyBytes)
          req.destroy(Object.assign(new Error('response body too large'), { code: 'EMSGSIZE' }));
        else chunks.push(chunk);
      });
      res.on('error', reject);
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
        } catch {
          json = undefined;
        }
        const flat: Record<string, string> = {};
        for (const [name, value] of Object.entries(res.headers))
          if (value !== undefined) flat[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
        resolve({ status: res.statusCode ?? 0, statusMessage: res.statusMessage ?? '', headers: flat, json });
      });
    });
    deadline = setTimeout(
      () => req.destroy(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })),
      timeoutMs,
    );
    req.on('error', reject);
    req.end(body);
  }).finally(() => clearTimeout(deadline));
}
