/**
 * Graph's identity and access throttling model (throttling-limits.md, "Identity and access service
 * limits"): a token bucket of resource units (RU) per app and tenant, sized by the tenant's user
 * count, and a write budget of 3,000 requests per 2 min 30 s per app and tenant.
 */
export interface ThrottleOptions {
  enabled: boolean;
  /** RU per window; by default from the tenant size: 3,500 (< 50 users), 5,000 (50-500), 8,000. */
  resourceUnits?: number;
  windowMs?: number;
  /** Writes per write window: 3,000 per 150 s by default (about 20 writes per second). */
  writes?: number;
  writeWindowMs?: number;
}

export interface RequestCost {
  ru: number;
  write: boolean;
}

export type ThrottleDecision =
  | { ok: true; headers: Record<string, string> }
  | {
      ok: false;
      retryAfter: number;
      reason: 'ResourceUnitLimitExceeded' | 'WriteLimitExceeded';
      headers: Record<string, string>;
    };

class Bucket {
  private tokens: number;
  private last: number;
  constructor(
    readonly capacity: number,
    private readonly windowMs: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  refill(now: number): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.capacity) / this.windowMs);
    this.last = now;
  }

  /** Milliseconds until `cost` tokens are there; 0 when they already are. */
  waitFor(cost: number): number {
    return this.tokens >= cost ? 0 : ((cost - this.tokens) * this.windowMs) / this.capacity;
  }

  take(cost: number, floor = 0): void {
    this.tokens = Math.max(floor, this.tokens - cost);
  }

  /** Fraction of the limit in use, as in `x-ms-throttle-limit-percentage`. */
  usage(): number {
    return (this.capacity - this.tokens) / this.capacity;
  }
}

/** The RU cost of a request (throttling-limits.md cost table and modifiers). */
export function requestCost(method: string, path: string, query: URLSearchParams): RequestCost {
  if (method !== 'GET') return { ru: 1, write: true };
  const segments = path.split('/').filter(Boolean).slice(1);
  let ru = 1;
  if (segments[0] === 'users' && segments.length <= 2 && segments[1] !== 'delta') ru = 2;
  if (segments[2] === 'members') ru = 3;
  if (segments[2] === 'transitiveMembers') ru = 5;
  if (query.has('$select')) ru -= 1;
  if (query.has('$expand')) ru += 1;
  if (query.has('$top') && Number(query.get('$top')) < 20) ru -= 1;
  return { ru: Math.max(1, ru), write: false };
}

/** Per app+tenant buckets; `now` is a monotonic clock in ms. */
export class Throttle {
  private readonly ru = new Map<string, Bucket>();
  private readonly writes = new Map<string, Bucket>();

  constructor(
    public options: ThrottleOptions,
    private readonly tenantUsers: () => number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Charges a request to the app; when over a limit, says how long to wait instead. */
  charge(appId: string, tenantId: string, cost: RequestCost): ThrottleDecision {
    const headers: Record<string, string> = { 'x-ms-resource-unit': String(cost.ru) };
    if (!this.options.enabled) return { ok: true, headers };
    const now = this.now();
    const ru = this.bucket(this.ru, appId, this.ruLimit(), this.options.windowMs ?? 10_000, now);
    const writes = this.bucket(
      this.writes,
      appId,
      this.options.writes ?? 3000,
      this.options.writeWindowMs ?? 150_000,
      now,
    );
    ru.refill(now);
    writes.refill(now);
    let waitRu = ru.waitFor(cost.ru);
    const waitWrite = cost.write ? writes.waitFor(1) : 0;
    if (waitRu > 0 || waitWrite > 0) {
      const write = waitWrite >= waitRu;
      // Usage keeps being counted while an app is throttled (throttling.md): retrying at once only
      // pushes the moment it may retry further out. The debt is capped at one window.
      ru.take(cost.ru, -ru.capacity);
      waitRu = ru.waitFor(cost.ru);
      return {
        ok: false,
        retryAfter: Math.max(1, Math.ceil(Math.max(waitRu, waitWrite) / 1000)),
        reason: write ? 'WriteLimitExceeded' : 'ResourceUnitLimitExceeded',
        headers: {
          ...headers,
          'x-ms-throttle-scope': `Tenant_Application/${write ? 'Write' : 'ReadWrite'}/${appId}/${tenantId}`,
          'x-ms-throttle-information': write ? 'WriteLimitExceeded' : 'ResourceUnitLimitExceeded',
          'x-ms-throttle-limit-percentage': Math.min(
            1.8,
            Math.max(1, write ? writes.usage() : ru.usage()),
          ).toFixed(1),
        },
      };
    }
    ru.take(cost.ru);
    if (cost.write) writes.take(1);
    const usage = Math.max(ru.usage(), cost.write ? writes.usage() : 0);
    if (usage > 0.8) headers['x-ms-throttle-limit-percentage'] = usage.toFixed(1);
    return { ok: true, headers };
  }

  private ruLimit(): number {
    if (this.options.resourceUnits) return this.options.resourceUnits;
    const users = this.tenantUsers();
    return users < 50 ? 3500 : users <= 500 ? 5000 : 8000;
  }

  private bucket(
    map: Map<string, Bucket>,
    appId: string,
    capacity: number,
    windowMs: number,
    now: number,
  ): Bucket {
    let b = map.get(appId);
    if (!b || b.capacity !== capacity) map.set(appId, (b = new Bucket(capacity, windowMs, now)));
    return b;
  }
}
