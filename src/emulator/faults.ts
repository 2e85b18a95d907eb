/**
 * Fault injection, per run and per request pattern: error statuses with `Retry-After`, connection
 * resets, truncated bodies, garbage, hangs, bodies that trickle in a byte a second, and token-endpoint
 * outages. Random faults use a seeded
 * generator so that a failing run can be replayed.
 */
export type FaultKind = 'status' | 'reset' | 'truncate' | 'garbage' | 'hang' | 'trickle';

export interface FaultRule {
  kind: FaultKind;
  /** For `status`: 429, 500, 503 or 504. */
  status?: number;
  /** Seconds, sent as `Retry-After` with 429 and 503. Omit for none (503/504 often have none). */
  retryAfter?: number;
  /** Probability per matching request (0-1). */
  rate?: number;
  /** Or: the next `count` matching requests. */
  count?: number;
  /** Substring or regular expression tested against `METHOD /path?query` (for $batch items, the item's). */
  match?: string | RegExp;
  /** Apply to the token endpoint only (`token`), to Graph only (`graph`, the default), or to both. */
  scope?: 'graph' | 'token' | 'all';
}

export interface Latency {
  fixedMs: number;
  jitterMs: number;
}

/** A deterministic PRNG (mulberry32). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Faults {
  private rules: FaultRule[] = [];
  private random: () => number;
  latency: Latency = { fixedMs: 0, jitterMs: 0 };

  constructor(seed = 1) {
    this.random = seededRandom(seed);
  }

  /** Adds rules; returns a function that removes them again. */
  add(...rules: FaultRule[]): () => void {
    const copies = rules.map((r) => ({ ...r }));
    this.rules.push(...copies);
    return () => {
      this.rules = this.rules.filter((r) => !copies.includes(r));
    };
  }

  clear(): void {
    this.rules = [];
  }

  /** The fault to apply to a request, if any (consuming a `count` rule). */
  pick(target: string, scope: 'graph' | 'token', options: { inBatch?: boolean } = {}): FaultRule | undefined {
    for (const rule of this.rules) {
      if ((rule.scope ?? 'graph') !== scope && rule.scope !== 'all') continue;
      // Connection-level faults cannot hit a single $batch item.
      if (options.inBatch && rule.kind !== 'status') continue;
      if (
        rule.match !== undefined &&
        !(typeof rule.match === 'string' ? target.includes(rule.match) : rule.match.test(target))
      )
        continue;
      if (rule.count !== undefined) {
        if (rule.count <= 0) continue;
        rule.count--;
        return rule;
      }
      if (rule.rate !== undefined && this.random() < rule.rate) return rule;
    }
    return undefined;
  }

  /** Delay before answering, in ms. */
  delay(): number {
    const { fixedMs, jitterMs } = this.latency;
    return fixedMs + (jitterMs > 0 ? this.random() * jitterMs : 0);
  }
}

/**
 * Parses the CLI's `--faults` spec: comma-separated items `KIND:RATE` or `KIND*COUNT`, each optionally
 * followed by `@PATTERN`; KIND is 429, 500, 503, 504, reset, truncate, garbage, hang, trickle or token-outage
 * (503 from the token endpoint); `retry-after=N` sets Retry-After seconds for the 429/503 items.
 * @example parseFaultSpec('429:0.1@/users/delta,503*3,reset:0.01,retry-after=2')
 */
export function parseFaultSpec(spec: string): FaultRule[] {
  const rules: FaultRule[] = [];
  let retryAfter: number | undefined;
  for (const raw of spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)) {
    const ra = /^retry-after=(\d+)$/i.exec(raw);
    if (ra) {
      retryAfter = Number(ra[1]);
      continue;
    }
    const m = /^([a-z0-9-]+)(?::([0-9.]+)|\*(\d+))(?:@(.+))?$/i.exec(raw);
    if (!m) throw new Error(`bad fault '${raw}': expected KIND:RATE or KIND*COUNT, optionally @PATTERN`);
    const [, kind, rate, count, match] = m;
    const rule: Partial<FaultRule> = {};
    if (rate !== undefined) {
      rule.rate = Number(rate);
      if (!(rule.rate >= 0 && rule.rate <= 1))
        throw new Error(`bad fault '${raw}': rate must be between 0 and 1`);
    } else rule.count = Number(count);
    if (match) rule.match = match;
    const k = kind!.toLowerCase();
    if (/^(429|500|503|504)$/.test(k)) Object.assign(rule, { kind: 'status', status: Number(k) });
    else if (k === 'token-outage') Object.assign(rule, { kind: 'status', status: 503, scope: 'token' });
    else if (['reset', 'truncate', 'garbage', 'hang', 'trickle'].includes(k)) rule.kind = k as FaultKind;
    else throw new Error(`bad fault '${raw}': unknown kind '${kind}'`);
    rules.push(rule as FaultRule);
  }
  for (const r of rules)
    if (r.kind === 'status' && (r.status === 429 || r.status === 503)) {
      const seconds = r.retryAfter ?? retryAfter ?? (r.status === 429 ? 1 : undefined);
      if (seconds !== undefined) r.retryAfter = seconds;
    }
  return rules;
}
