import { randomUUID } from 'node:crypto';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import {
  createCertificateAuthority,
  generateSelfSignedCertificate,
  type CertificateAndKey,
} from '../../src/emulator/ca.js';
import type { EmuRequest, EmuResponse } from '../../src/emulator/http-types.js';
import {
  createIdentityPlatform,
  type IdentityPlatform,
  type IdentityPlatformOptions,
} from '../../src/emulator/identity.js';

/** What a test may do to a request before the identity platform sees it: answer it, or drop the connection. */
export type Intercept = (req: EmuRequest) => EmuResponse | 'reset' | undefined;

export interface IdentityServer {
  origin: string;
  caPem: string;
  identity: IdentityPlatform;
  /** Every request received, in order: method and path (without the query string). */
  requests: { method: string; path: string; body: string }[];
  intercept: Intercept | undefined;
}

let tls: { caPem: string; server: CertificateAndKey; signingKey: CertificateAndKey } | undefined;

/** One CA, server certificate and token-signing key shared by the tests of a process (keys are slow to make). */
export function testTls() {
  if (!tls) {
    const ca = createCertificateAuthority();
    const signing = generateSelfSignedCertificate({ commonName: 'accounts.accesscontrol.windows.net' });
    tls = { caPem: ca.caPem, server: ca.issueServerCertificate(), signingKey: signing };
  }
  return tls;
}

function send(res: import('node:http').ServerResponse, answer: EmuResponse): void {
  const body = answer.body;
  const headers = { ...answer.headers };
  let payload: Buffer | string | undefined;
  if (body === undefined) payload = undefined;
  else if (Buffer.isBuffer(body) || typeof body === 'string') payload = body;
  else {
    payload = JSON.stringify(body);
    if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type'))
      headers['Content-Type'] = 'application/json';
  }
  res.writeHead(answer.status, headers);
  res.end(payload);
}

/**
 * Runs `fn` against an HTTPS server on 127.0.0.1 (port 0) whose handler is `identity.handle`, the way the
 * emulator server will call it. The server is closed afterwards, whatever happens.
 */
export async function withIdentityServer(
  options: Omit<IdentityPlatformOptions, 'origin' | 'now'> & { now?: () => number },
  fn: (server: IdentityServer) => Promise<void>,
): Promise<void> {
  const { caPem, server: cert, signingKey } = testTls();
  let origin = '';
  const identity = createIdentityPlatform({ now: Date.now, signingKey, ...options, origin: () => origin });
  const state: IdentityServer = { origin, caPem, identity, requests: [], intercept: undefined };
  const server = https.createServer({ cert: cert.certPem, key: cert.keyPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', origin);
      const emuRequest: EmuRequest = {
        method: req.method ?? 'GET',
        url,
        headers: req.headers,
        body: Buffer.concat(chunks),
        requestId: randomUUID(),
      };
      state.requests.push({
        method: emuRequest.method,
        path: url.pathname,
        body: emuRequest.body.toString('utf8'),
      });
      const intercepted = state.intercept?.(emuRequest);
      if (intercepted === 'reset') return req.socket.destroy();
      send(res, intercepted ?? identity.handle(emuRequest) ?? { status: 404, body: { error: 'not found' } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  origin = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.origin = origin;
  try {
    await fn(state);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
