/**
 * How many Graph requests a parallel complete round keeps in flight: a fixed number (`--parallel N`)
 * or a window adapted while the round runs (`--parallel auto`) from what Graph says about each answer.
 */

/** What one answer (or one attempt of a retried request) said about Graph's load. */
export interface Answer {
  /** HTTP status; undefined for a network failure. */
  status?: number;
  /** `Retry-After`, in ms, when sent. */
  retryAfterMs?: number;
  /** `x-ms-resource-unit`: the RU the request cost. */
  resourceUnits?: number;
  /** `x-ms-throttle-limit-percentage` (0.8-1.8, sent past 80% of a limit). */
  limitPercentage?: number;
  /** `x-ms-throttle-information`, e.g. `ResourceUnitLimitExceeded`. */
  throttleInformation?: string;
  /** When the request was sent (the limiter's clock), to tell signals of old requests from new ones. */
  sentAt: number;
}

export interface ConcurrencyLimiter {
  /** Waits for a slot; call the returned function with the request's answers when it is done. */
  acquire(): Promise<() => void>;
  /** Feeds one answer (every attempt: a retried 429 counts). */
  observe(answer: Answer): void;
  /** The limiter's clock, for {@link Answer.sentAt}. */
  now(): number;
  /** Requests allowed in flight now. */
  readonly limit: number;
  /** The most a round should plan for (workers to start). */
  readonly max: number;
  readonly stats: LimiterStats;
}

export interface LimiterStats {
  answers: number;
  throttled: number;
  resourceUnits: number;
  /** Largest window reached. */
  peak: number;
  /** Times the window was cut. */
  decreases: number;
}

export interface AimdOptions {
  /** Window at the start (default 4). */
  initial?: number;
  min?: number;
  /** Ceiling of the window (default 48). */
  max?: number;
  /** Cut factor on a throttled answer (default 0.5). */
  decrease?: number;
  /**
   * Graph's RU budget per second for this app and tenant (3,500, 5,000 or 8,000 RU per 10 s by tenant
   * size): the window is capped so that the RU rate it implies (window × RU per request / latency)
   * stays under 90% of it. Omit for no cap.
   */
  ruPerSecond?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms).unref?.());

/** A limiter of `n` requests in flight, honouring nothing else (the client retries on its own). */
export function fixedConcurrency(n: number, now: () => number = () => performance.now()): ConcurrencyLimiter {
  return new Limiter({ initial: n, min: n, max: n, now }, false);
}

/**
 * AIMD with slow start, in the manner of TCP congestion control:
 *  - slow start: +1 per clean answer (the window doubles every round trip) until the first sign of load;
 *  - then additive increase: +1/window per clean answer (about +1 per round trip);
 *  - a 429 (or 503 with Retry-After) cuts the window by `decrease`, once per round trip (only answers
 *    to requests sent after the last cut count), and holds new requests until Retry-After has passed:
 *    Graph keeps counting usage while an app is throttled, so sending meanwhile only prolongs it;
 *  - `x-ms-throttle-limit-percentage` ≥ 0.8 stops the increase; ≥ 1.0 (the limit reached) cuts by a
 *    quarter, once per round trip;
 *  - the window grows only while it is used (at least half of it in flight): a round that has
 *    nothing more to ask does not earn credit it would spend in one burst later;
 *  - with a known RU budget, the window is capped by the RU rate it implies (see `ruPerSecond`).
 */
export function aimdConcurrency(options: AimdOptions = {}): ConcurrencyLimiter {
  return new Limiter(options, true);
}

class Limiter implements ConcurrencyLimiter {
  private window: number;
  private readonly min: number;
  readonly max: number;
  private slowStart = true;
  private inFlight = 0;
  private lastCut = -Infinity;
  private pausedUntil = -Infinity;
  private waiters: (() => void)[] = [];
  private pauseTimer = false;
  private readonly clock: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  /** Smoothed latency (ms) and RU per request, for the RU cap. */
  private latency = 0;
  private ruPerRequest = 0;
  readonly stats: LimiterStats = { answers: 0, throttled: 0, resourceUnits: 0, peak: 0, decreases: 0 };

  constructor(
    private readonly o: AimdOptions,
    private readonly adaptive: boolean,
  ) {
    this.min = Math.max(1, o.min ?? 1);
    this.max = Math.max(this.min, o.max ?? 48);
    this.window = Math.min(this.max, Math.max(this.min, o.initial ?? 4));
    this.stats.peak = this.window;
    this.clock = o.now ?? (() => performance.now());
    this.sleep = o.sleep ?? realSleep;
  }

  get limit(): number {
    return Math.max(this.min, Math.floor(this.window));
  }

  now(): number {
    return this.clock();
  }

  async acquire(): Promise<() => void> {
    for (;;) {
      const wait = this.pausedUntil - this.clock();
      if (wait > 0) {
        await this.pause(wait);
        continue;
      }
      if (this.inFlight < this.limit) break;
      await new Promise<void>((r) => this.waiters.push(r));
    }
    this.inFlight++;
    const sentAt = this.clock();
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.inFlight--;
      this.track(this.clock() - sentAt);
      this.wake();
    };
  }

  observe(a: Answer): void {
    this.stats.answers++;
    if (a.resourceUnits !== undefined && Number.isFinite(a.resourceUnits)) {
      this.stats.resourceUnits += a.resourceUnits;
      this.ruPerRequest = this.ruPerRequest
        ? this.ruPerRequest * 0.9 + a.resourceUnits * 0.1
        : a.resourceUnits;
    }
    const throttled = a.status === 429 || (a.status === 503 && a.retryAfterMs !== undefined);
    if (throttled) this.stats.throttled++;
    if (!this.adaptive) return;
    const now = this.clock();
    if (throttled) {
      if (a.retryAfterMs !== undefined) this.pausedUntil = Math.max(this.pausedUntil, now + a.retryAfterMs);
      this.cut(a.sentAt, this.o.decrease ?? 0.5);
      return;
    }
    if (a.status === undefined || a.status >= 500) return;
    const pct = a.limitPercentage;
    if (pct !== undefined && pct >= 1) return this.cut(a.sentAt, 0.75);
    if (pct !== undefined && pct >= 0.8) {
      this.slowStart = false;
      return;
    }
    if (this.inFlight * 2 < this.limit) return;
    this.window = Math.min(this.cap(), this.window + (this.slowStart ? 1 : 1 / this.window));
    this.stats.peak = Math.max(this.stats.peak, this.limit);
    this.wake();
  }

  /** The window's ceiling: `max`, or lower when the RU budget is known and would be exceeded. */
  private cap(): number {
    const budget = this.o.ruPerSecond;
    if (!budget || !this.latency || !this.ruPerRequest) return this.max;
    const byRu = (0.9 * budget * (this.latency / 1000)) / this.ruPerRequest;
    return Math.max(this.min, Math.min(this.max, byRu));
  }

  private cut(sentAt: number, factor: number): void {
    this.slowStart = false;
    // One cut per round trip: the answers to requests sent before the last cut describe the old window.
    if (sentAt <= this.lastCut) return;
    this.lastCut = this.clock();
    this.window = Math.max(this.min, this.window * factor);
    this.stats.decreases++;
  }

  private track(ms: number): void {
    this.latency = this.latency ? this.latency * 0.9 + ms * 0.1 : ms;
  }

  private async pause(ms: number): Promise<void> {
    if (this.pauseTimer) {
      await new Promise<void>((r) => this.waiters.push(r));
      return;
    }
    this.pauseTimer = true;
    try {
      await this.sleep(ms);
    } finally {
      this.pauseTimer = false;
      this.wake();
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}
