import { graphError } from './graph-error.js';
import { headerOf, mergeHeaders } from './headers.js';
import type { EmuRequest, EmuResponse } from './http-types.js';

/** At most 20 requests per `$batch` (json-batching.md). */
export const MAX_BATCH = 20;

const ODATA_JSON =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
const WRITES = new Set(['POST', 'PATCH', 'PUT']);

interface BatchItem {
  id: string;
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: unknown;
  dependsOn?: string[];
}

/** Runs one inner request through the same pipeline as a top-level one (auth, throttling, faults, routing). */
export type ItemExecutor = (item: EmuRequest) => Promise<EmuResponse>;

function lowerHeaders(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h ?? {})) out[k.toLowerCase()] = String(v);
  return out;
}

function stringHeaders(h: unknown): Record<string, string> {
  return h && typeof h === 'object' ? lowerHeaders(h as Record<string, unknown>) : {};
}

/**
 * `POST /$batch`: validates the envelope (a malformed batch fails whole with 400), runs items in
 * dependency order, fails dependants of a failed item with 424, and answers `200` with per-item
 * status, headers and body, in an order of its own: clients must correlate by `id`.
 */
export async function handleBatch(
  req: EmuRequest,
  version: string,
  execute: ItemExecutor,
): Promise<EmuResponse> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(req.body.toString('utf8'));
  } catch {
    return graphError(req, 400, 'BadRequest', 'Invalid batch payload format.');
  }
  const requests = (parsed as { requests?: unknown }).requests;
  if (!Array.isArray(requests) || requests.length === 0)
    return graphError(req, 400, 'BadRequest', 'Invalid batch payload format.');
  if (requests.length > MAX_BATCH)
    return graphError(
      req,
      400,
      'BadRequest',
      `Number of batch request steps exceeds the maximum value of ${MAX_BATCH}.`,
    );
  const items = requests as BatchItem[];
  const ids = new Set<string>();
  for (const item of items) {
    if (
      typeof item?.id !== 'string' ||
      !item.id ||
      typeof item.method !== 'string' ||
      typeof item.url !== 'string'
    )
      return graphError(
        req,
        400,
        'BadRequest',
        'Invalid batch payload format: every request needs id, method and url.',
      );
    const key = item.id.toLowerCase();
    if (ids.has(key))
      return graphError(
        req,
        400,
        'BadRequest',
        `Batch request ids must be unique; '${item.id}' is repeated.`,
      );
    ids.add(key);
  }
  for (const item of items)
    for (const dep of item.dependsOn ?? [])
      if (!ids.has(String(dep).toLowerCase()))
        return graphError(
          req,
          400,
          'BadRequest',
          `Request '${item.id}' depends on unknown request '${dep}'.`,
        );
  // A write without a body or a Content-Type fails the whole batch before anything runs: Graph answers
  // the $batch itself with 400 (json-batching.md: "When a body is included with the request, the
  // headers object must contain a value for Content-Type"; observed message, msgraph-sdk-dotnet#2628).
  for (const item of items)
    if (
      (item.body !== undefined || WRITES.has(item.method.toUpperCase())) &&
      (item.body === undefined || !headerOf(stringHeaders(item.headers), 'content-type'))
    )
      return graphError(
        req,
        400,
        'BadRequest',
        `Write request id : ${item.id} does not contain Content-Type header or body.`,
      );

  const results = new Map<string, EmuResponse>();
  const pending = [...items];
  while (pending.length) {
    const index = pending.findIndex((i) =>
      (i.dependsOn ?? []).every((d) => results.has(String(d).toLowerCase())),
    );
    if (index < 0) return graphError(req, 400, 'BadRequest', 'Batch requests have a circular dependency.');
    const item = pending.splice(index, 1)[0]!;
    const failedDep = (item.dependsOn ?? []).some(
      (d) => (results.get(String(d).toLowerCase())?.status ?? 500) >= 400,
    );
    results.set(
      item.id.toLowerCase(),
      failedDep ? failedDependency(req) : await runItem(req, version, item, execute),
    );
  }
  const responses = items.map((item) => {
    const r = results.get(item.id.toLowerCase())!;
    // Item headers in Graph's spelling, as in json-batching.md's example response.
    const json = r.body !== undefined && typeof r.body === 'object';
    const success = r.status < 400;
    const headers = mergeHeaders(
      { 'Cache-Control': 'no-cache' },
      json && success ? { 'OData-Version': '4.0' } : undefined,
      json ? { 'Content-Type': success ? ODATA_JSON : 'application/json' } : undefined,
      r.headers,
    );
    return { id: item.id, status: r.status, headers, ...(r.body === undefined ? {} : { body: r.body }) };
  });
  // Graph returns responses in no particular order: rotate them so clients that assume order fail fast.
  const shift = responses.length > 1 ? 1 : 0;
  return { status: 200, body: { responses: [...responses.slice(shift), ...responses.slice(0, shift)] } };
}

function failedDependency(req: EmuRequest): EmuResponse {
  return graphError(req, 424, 'BadRequest', 'Failed dependency');
}

async function runItem(
  outer: EmuRequest,
  version: string,
  item: BatchItem,
  execute: ItemExecutor,
): Promise<EmuResponse> {
  if (/^https?:/i.test(item.url))
    return graphError(outer, 400, 'BadRequest', 'Batch request URLs must be relative, e.g. /users.');
  const headers = lowerHeaders(item.headers);
  const url = new URL(`/${version}/${item.url.replace(/^\//, '')}`, outer.url);
  const body =
    item.body === undefined
      ? Buffer.alloc(0)
      : typeof item.body === 'string'
        ? Buffer.from(item.body, 'base64url')
        : Buffer.from(JSON.stringify(item.body));
  return execute({
    method: item.method.toUpperCase(),
    url,
    headers: {
      ...headers,
      authorization: outer.headers.authorization,
      'client-request-id': headers['client-request-id'],
    },
    body,
    requestId: outer.requestId,
  });
}
