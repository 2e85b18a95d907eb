/** How a client backs off between attempts (the parts of got's `retry` options we use). */
export interface RetryPolicy {
  /** The first backoff, doubled per attempt. */
  backoffMs: number;
  /** The longest backoff (default: no limit). */
  maxBackoffMs?: number;
  /** Spread backoffs over [50 %, 100 %] of their value so that clients do not retry in step (default false). */
  jitter?: boolean;
  /**
   * What a server's `Retry-After` does: `exact` waits what it says (Graph asks for what it needs);
   * `floor` waits at least that, and at least the backoff (default `exact`).
   */
  retryAfter?: 'exact' | 'floor';
  /** The longest wait of all (default: no limit). */
  maxDelayMs?: number;
}

/**
 * The wait before the next attempt, in ms: the one backoff formula of every client (Graph, `$batch`
 * items, the token endpoint, managed identity, Key Vault). Pure, like got's `calculate-retry-delay`:
 * the caller decides whether to retry at all.
 * @example retryDelay({ attemptCount: 3, retryPolicy: { backoffMs: 500 } }) // → 2000
 */
export function retryDelay(input: {
  /** 1 before the first retry, 2 before the second... (got's `attemptCount`). */
  attemptCount: number;
  /** What the server asked for (`Retry-After`), in ms. */
  retryAfter?: number | undefined;
  retryPolicy: RetryPolicy;
  /** Injectable for tests (default Math.random). */
  random?: () => number;
}): number {
  const { attemptCount, retryAfter, retryPolicy: p } = input;
  const exponential = p.backoffMs * 2 ** Math.max(0, attemptCount - 1);
  let backoff = Math.min(p.maxBackoffMs ?? Infinity, exponential);
  if (p.jitter) backoff *= 0.5 + (input.random ?? Math.random)() / 2;
  const asked = retryAfter !== undefined && Number.isFinite(retryAfter) ? retryAfter : undefined;
  const wait = (p.retryAfter ?? 'exact') === 'exact' ? (asked ?? backoff) : Math.max(backoff, asked ?? 0);
  return Math.min(p.maxDelayMs ?? Infinity, wait);
}

/** How many times an idempotent request retries a 500: a blip costs a retry, a lasting bug fails fast. */
export const INTERNAL_ERROR_RETRIES = 3;

/**
 * Whether an answer's status is worth another attempt (the caller's policy still decides for writes):
 * 429, 503 and 504 always (within the client's retry limit); 500 only for the first
 * {@link INTERNAL_ERROR_RETRIES} retries, since Graph's 500s are mostly transient, but not always.
 * @example isTransientStatus(500, 1) // → true; isTransientStatus(500, 4) // → false
 */
export function isTransientStatus(status: number, attemptCount: number): boolean {
  if (status === 429 || status === 503 || status === 504) return true;
  return status === 500 && attemptCount <= INTERNAL_ERROR_RETRIES;
}
