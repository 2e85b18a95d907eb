import type { WriteBudget } from '../types.js';

/**
 * Client-side pacing under Graph's write budget (3,000 writes per 2 min 30 s per app and tenant,
 * throttling-limits.md): a token bucket that starts full, like Graph's, and says how long to wait
 * before the next `n` writes may go. A 429 pauses everything until its Retry-After has passed.
 */

export type { WriteBudget } from '../types.js';

/** Graph's documented write budget. */
export const GRAPH_WRITE_BUDGET: WriteBudget = { writes: 3000, windowMs: 150_000 };

export class WritePacer {
  private tokens: number;
  private last: number;
  private pausedUntil = 0;
  /** When the budget (not a 429) last held writes back (progress says so); -Infinity before. */
  budgetWaitAt = -Infinity;
  /**
   * How long writes were held back, from the first refusal to the next grant: by the budget, and by a
   * 429's pause (the run's `--summary`).
   */
  readonly held = { budgetMs: 0, throttleMs: 0 };
  private holdSince: number | undefined;
  private holdKind: 'budgetMs' | 'throttleMs' = 'budgetMs';

  constructor(
    readonly budget: WriteBudget | null,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.tokens = budget?.writes ?? 0;
    this.last = now();
  }

  /**
   * Ms to wait before `n` writes may be sent; 0 when they may go now (and then they are charged). A
   * batch larger than the whole budget goes once the bucket is full, and leaves it in debt.
   */
  reserve(n: number): number {
    const wait = this.reserveNow(n);
    const now = this.now();
    if (wait > 0 && this.holdSince === undefined) {
      this.holdSince = now;
      this.holdKind = now < this.pausedUntil ? 'throttleMs' : 'budgetMs';
    } else if (wait === 0 && this.holdSince !== undefined) {
      this.held[this.holdKind] += now - this.holdSince;
      this.holdSince = undefined;
    }
    return wait;
  }

  private reserveNow(n: number): number {
    const now = this.now();
    if (now < this.pausedUntil) return Math.ceil(this.pausedUntil - now);
    if (!this.budget) return 0;
    const rate = this.budget.writes / this.budget.windowMs;
    this.tokens = Math.min(this.budget.writes, this.tokens + (now - this.last) * rate);
    this.last = now;
    const need = Math.min(n, this.budget.writes);
    if (this.tokens >= need) {
      this.tokens -= n;
      return 0;
    }
    this.budgetWaitAt = now;
    return Math.max(1, Math.ceil((need - this.tokens) / rate));
  }

  /**
   * Takes no credit for the time since the last charge. Called when the first answer comes back: its
   * writes reached Graph only after the token and the connection were ready, and Graph's bucket started
   * counting then, not when ours did; the time in between would otherwise let a burst through.
   */
  resync(): void {
    this.last = Math.max(this.last, this.now());
  }

  /** Graph said 429: nothing goes out before `ms` have passed, and the bucket is empty. */
  pause(ms: number): void {
    this.pausedUntil = Math.max(this.pausedUntil, this.now() + ms);
    // Empty when the pause ends, not refilled by it: after a 429 writes resume at the budget's rate.
    this.tokens = Math.min(this.tokens, 0);
    this.last = Math.max(this.last, this.pausedUntil);
  }
}
