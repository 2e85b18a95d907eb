/**
 * Client-side pacing under Graph's write budget (3,000 writes per 2 min 30 s per app and tenant,
 * throttling-limits.md): a token bucket that starts full, like Graph's, and says how long to wait
 * before the next `n` writes may go. A 429 pauses everything until its Retry-After has passed.
 */
export interface WriteBudget {
  writes: number;
  windowMs: number;
}

/** Graph's documented write budget. */
export const GRAPH_WRITE_BUDGET: WriteBudget = { writes: 3000, windowMs: 150_000 };

/** `3000/150` (writes per seconds) or `off`. */
export function parseWriteBudget(text: string): WriteBudget | null {
  if (text === 'off') return null;
  const m = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0)
    throw new Error(`expected WRITES/SECONDS (e.g. 3000/150) or off, got '${text}'`);
  return { writes: Number(m[1]), windowMs: Number(m[2]) * 1000 };
}

export class WritePacer {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;

  constructor(
    private readonly budget: WriteBudget | null,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = budget?.writes ?? 0;
    this.last = now();
  }

  /** Ms to wait before `n` writes may be sent; 0 when they may go now (and then they are charged). */
  reserve(n: number): number {
    const now = this.now();
    if (now < this.pausedUntil) return this.pausedUntil - now;
    if (!this.budget) return 0;
    const rate = this.budget.writes / this.budget.windowMs;
    this.tokens = Math.min(this.budget.writes, this.tokens + (now - this.last) * rate);
    this.last = now;
    if (this.tokens >= n) {
      this.tokens -= n;
      return 0;
    }
    return Math.ceil((n - this.tokens) / rate);
  }

  /** Graph said 429: nothing goes out before `ms` have passed, and the bucket is empty. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    this.tokens = 0;
  }
}
