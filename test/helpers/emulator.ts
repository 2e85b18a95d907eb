import { request } from 'node:https';
import { fileURLToPath } from 'node:url';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';
import { readTenantFile, type TenantData } from '../../src/emulator/tenant.js';
import { testTls } from './identity-server.js';

/**
 * Starts an emulator for the duration of `fn`, and always closes it. Throttling is off unless asked
 * for, and the emulator uses the process's shared test keys (fresh RSA keys take a while to make).
 */
export async function withEmulator<T>(
  options: EmulatorOptions,
  fn: (emu: Emulator) => Promise<T>,
): Promise<T> {
  const emu = await startEmulator({ throttle: false, tls: testTls(), ...options });
  try {
    return await fn(emu);
  } finally {
    await emu.close();
  }
}

export interface HttpAnswer {
  status: number;
  headers: Record<string, string>;
  text: string;
  json: any;
}

/** One HTTPS request to the emulator, trusting only its CA. */
export function call(
  emu: Emulator,
  method: string,
  pathOrUrl: string,
  options: {
    token?: string | null;
    headers?: Record<string, string>;
    body?: unknown;
    form?: Record<string, string>;
  } = {},
): Promise<HttpAnswer> {
  const url = new URL(pathOrUrl, emu.url);
  const headers: Record<string, string> = { ...options.headers };
  const token = options.token === undefined ? emu.identity.issueAccessToken(emu.clientId) : options.token;
  if (token) headers.authorization = `Bearer ${token}`;
  let payload: string | undefined;
  if (options.form) {
    payload = new URLSearchParams(options.form).toString();
    headers['content-type'] = 'application/x-www-form-urlencoded';
  } else if (options.body !== undefined) {
    payload = typeof options.body === 'string' ? options.body : JSON.stringify(options.body);
    headers['content-type'] ??= 'application/json';
  }
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, ca: emu.caPem }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: unknown;
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers as Record<string, string>, text, json });
      });
    });
    req.on('error', reject);
    req.end(payload);
  });
}

/** Follows a delta round from `path` to its deltaLink; returns every item and the deltaLink. */
export async function deltaRound(
  emu: Emulator,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ items: any[]; deltaLink: string; pages: number }> {
  const items: any[] = [];
  let next: string | undefined = path;
  let pages = 0;
  for (;;) {
    const r = await call(emu, 'GET', next, { headers });
    if (r.status !== 200) throw new Error(`delta page ${next}: ${r.status} ${r.text}`);
    pages++;
    items.push(...(r.json.value as any[]));
    if (r.json['@odata.deltaLink']) return { items, deltaLink: r.json['@odata.deltaLink'], pages };
    next = r.json['@odata.nextLink'];
    if (!next) throw new Error('page without nextLink or deltaLink');
  }
}

let sample: TenantData | undefined;

/** A fresh copy of samples/tenant.json (15 users, 7 groups, 3 service principals, 2 directory roles). */
export async function sampleTenant(): Promise<TenantData> {
  sample ??= await readTenantFile(fileURLToPath(new URL('../../samples/tenant.json', import.meta.url)));
  return structuredClone(sample);
}

/** Delta page limits small enough to force paging, split groups and empty pages on small tenants. */
export const SMALL_LIMITS = { objects: 5, links: 7, scan: 50 };

/** Asserts nothing; returns Graph's error envelope parts of an answer, for terse checks. */
export function graphErrorOf(r: HttpAnswer): { status: number; code: string; message: string } {
  return { status: r.status, code: r.json?.error?.code, message: r.json?.error?.message };
}
