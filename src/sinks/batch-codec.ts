import { retryAfterMs } from '../graph/client.js';
import type { PlannedRequest } from '../types.js';

/** One request of a JSON `$batch` body (graph-protocol.md §8: ids are strings, URLs relative). */
export interface BatchRequestItem {
  id: string;
  method: PlannedRequest['method'];
  url: string;
  headers?: Record<string, string>;
  body?: Record<string, unknown>;
}

/** Graph's answer to one item of a `$batch`, headers lower-cased. */
export interface BatchItemAnswer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** `Retry-After`, in ms, when the item carries one. */
  retryAfterMs?: number;
}

/**
 * The `$batch` body for a list of requests; item ids are their 1-based positions, which
 * {@link decodeBatch} uses to hand each answer back to its request.
 */
export function encodeBatch(requests: readonly PlannedRequest[]): { requests: BatchRequestItem[] } {
  return {
    requests: requests.map((r, i) => ({
      id: String(i + 1),
      method: r.method,
      url: r.url,
      ...(r.body ? { headers: { 'Content-Type': 'application/json', ...r.headers }, body: r.body } : {}),
    })),
  };
}

/**
 * The answers of a `$batch` response body, in the order of the requests that {@link encodeBatch} was
 * given (`undefined` for a request Graph did not answer); `undefined` when the body holds no
 * `responses` array at all.
 */
export function decodeBatch(body: unknown, count: number): (BatchItemAnswer | undefined)[] | undefined {
  const responses = (body as { responses?: unknown } | undefined)?.responses;
  if (!Array.isArray(responses)) return undefined;
  const byId = new Map<string, BatchItemAnswer>();
  for (const r of responses as { id?: unknown; status?: unknown; headers?: unknown; body?: unknown }[]) {
    const headers = Object.fromEntries(
      Object.entries((r?.headers ?? {}) as Record<string, string>).map(([k, v]) => [k.toLowerCase(), v]),
    );
    const after = retryAfterMs(headers['retry-after']);
    byId.set(String(r?.id), {
      status: Number(r?.status),
      headers,
      ...(r?.body !== undefined ? { body: r.body } : {}),
      ...(after !== undefined ? { retryAfterMs: after } : {}),
    });
  }
  return Array.from({ length: count }, (_, i) => byId.get(String(i + 1)));
}
