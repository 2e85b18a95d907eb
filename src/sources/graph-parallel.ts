import { printableUrl, retryAfterMs, type GraphClient, type GraphResponse } from '../graph/client.js';
import { entityInfo, type EntityName } from '../graph/schema.js';
import { GraphHttpError, ToolError } from '../errors.js';
import { LINKS_ONLY, type GraphObject, type Logger, type ParallelState, type SourceMsg } from '../types.js';
import { aimdConcurrency, fixedConcurrency, type Answer, type ConcurrencyLimiter } from './concurrency.js';

/** Objects per list page (Graph's most for users and groups). */
const PAGE = 999;

/**
 * The parallel complete mode (`entra export --parallel N|auto`). A delta round is one sequential chain
 * of pages; a complete export of a large tenant is bound by its latency. Instead:
 *  1. take a `$deltatoken=latest` deltaLink first: every change from now on reaches the next
 *     incremental round, so nothing that happens while we list is lost;
 *  2. list the collection in partitions that are complete by construction: Graph restricts the
 *     characters of userPrincipalName and mailNickname to known alphabets, so `startswith` on each
 *     first character covers every object; a partition holding many objects is split by its next
 *     character (then the next), kept whole when its parts' counts don't add up to its own. The
 *     partitions' `$count`s must add up to the collection's `$count`, or the entity falls back to
 *     the sequential delta round before anything is emitted;
 *  3. links (groups' members and owners, users' manager) come from delta rounds scoped to 50 ids each
 *     (`$filter=id eq ...`), run in parallel: no request per object, and large groups page through
 *     their members as usual.
 * Every request goes through a {@link ConcurrencyLimiter}: N in flight, or (auto) a window adapted to
 * Graph's answers. Pages wait in a buffer bounded by bytes, and a worker with a page to hand over
 * sends nothing new, so memory stays flat whatever the window.
 */
export interface ParallelSourceOptions {
  client: GraphClient;
  entity: EntityName;
  /** Structural attributes (with id) and navigations, as in the sequential round's `$select`. */
  attributes: string[];
  navigations: string[];
  /** Requests in flight: a number, or `auto`. */
  parallel: number | 'auto';
  /** The run's limiter, shared by its entities (Graph's budget is per app and tenant); else one of its own. */
  limiter?: ConcurrencyLimiter;
  logger: Logger;
  /**
   * `auto` runs the sequential round below this many objects: 5,000 (five pages), or 1,000 for an
   * entity read with its links (its delta pages hold fewer objects).
   */
  autoMinObjects?: number;
  /**
   * `auto` runs the sequential round when Graph answers its first small requests faster than this
   * (default 20 ms): without latency to hide, partitions only add requests.
   */
  autoMinLatencyMs?: number;
  /** Bytes of pages (as received) waiting for the writers (default 16 MB). */
  bufferBytes?: number;
  /** Objects per list page (default Graph's most, 999; tests ask for less to get many pages). */
  pageSize?: number;
  /** Keeps where each chain of pages stands, for resume checkpoints (else one of its own). */
  ledger?: ChainLedger;
  /** Go on with a round a checkpoint left mid-way: no count, no plan; its chains and listings as they were. */
  resume?: ParallelState;
}

/** Ids per id-scoped delta round (Graph's most `id eq` conditions in a delta `$filter`). */
const IDS_PER_ROUND = 50;

/**
 * The chains of pages of a partitioned round, and how far the files have them: a chain is opened
 * (with the URL of its first page) before any page of it is read, and moves on when a page of it is
 * written ({@link written}, called by the writer's marks, in the chain's order). {@link state} is
 * then what a checkpoint taken after those writes records. An id listing's next page and carried ids
 * move on when it opens a chain of them, in the same step, so no id is in neither nor in both.
 */
export class ChainLedger {
  private plan: { deltaLink: string; partitions: number } | undefined;
  private readonly chains = new Map<number, string>();
  private readonly listings: { next?: string; carry: string[] }[] = [];
  private ids = 0;

  /** The round is planned: its cookie and partitions. */
  planned(deltaLink: string, partitions: number): void {
    this.plan = { deltaLink, partitions };
  }

  /** A chain starting at `url` (none of its rows written yet); its id. */
  open(url: string): number {
    const id = ++this.ids;
    this.chains.set(id, url);
    return id;
  }

  /** A page of chain `id` is written: the chain goes on from `next`, or has ended. */
  written(id: number, next: string | undefined): void {
    if (next === undefined) this.chains.delete(id);
    else if (this.chains.has(id)) this.chains.set(id, next);
  }

  /** An id listing, mutated in place by its lister. */
  listing(next: string | undefined, carry: string[]): { next?: string; carry: string[] } {
    const l = { ...(next !== undefined ? { next } : {}), carry };
    this.listings.push(l);
    return l;
  }

  /** Where the round stands, once it is planned. */
  state(): ParallelState | undefined {
    if (!this.plan) return undefined;
    return {
      ...this.plan,
      chains: [...this.chains.values()],
      listings: this.listings
        .filter((l) => l.next !== undefined || l.carry.length > 0)
        .map((l) => ({ ...(l.next !== undefined ? { next: l.next } : {}), carry: [...l.carry] })),
    };
  }
}

/** Graph refusing a link a checkpoint held: a delta token's `syncStateNotFound`, `410`, an expired skip token. */
function linkRefused(e: unknown): boolean {
  if (!(e instanceof GraphHttpError)) return false;
  const code = (e.graphCode ?? '').toLowerCase();
  return (
    e.status === 410 ||
    ([400, 404].includes(e.status) &&
      (['syncstatenotfound', 'resyncrequired', 'directory_expiredpagetoken'].includes(code) ||
        /token/i.test(e.message)))
  );
}

/** userPrincipalName aliases: `A-Z a-z 0-9 ' . - _ ! # ^ ~` (user-post-users.md); startswith ignores case. */
const UPN_FIRST = [...'abcdefghijklmnopqrstuvwxyz0123456789', "'", '.', '-', '_', '!', '#', '^', '~'];
/** mailNickname: printable ASCII without `@ ( ) \ [ ] " ; : < > ,` and space (group-post-groups.md). */
const NICKNAME_FIRST = [
  ...Array.from({ length: 0x7e - 0x21 + 1 }, (_, i) => String.fromCharCode(0x21 + i)),
].filter((c) => !/[@()\\[\]";:<>,A-Z]/.test(c));

/** Entities the parallel mode knows how to partition; others run their sequential delta round. */
export function partitionProperty(entity: EntityName): string | undefined {
  return entity === 'user' ? 'userPrincipalName' : entity === 'group' ? 'mailNickname' : undefined;
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;

/**
 * A listed object in the shape delta gives it: lists return unset properties as `null` (and empty
 * collections as `[]`) where delta omits them, so the rows come out the same either way. They become
 * `undefined`, which every reader of a record takes for absent: `delete` would turn each object into
 * one of V8's dictionary-mode objects, about three times the memory of the parsed object (measured:
 * 24 MB of property dictionaries for 20,000 users waiting in the parallel buffer) and slower to read.
 */
export function asDeltaRecord(o: GraphObject): GraphObject {
  for (const key in o) {
    const v = o[key];
    if (v === null || (Array.isArray(v) && v.length === 0)) o[key] = undefined;
  }
  return o;
}
const EVENTUAL = { ConsistencyLevel: 'eventual' };

/** Runs `work` over `items` with at most `limit` at a time, in order of start. */
async function pool<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await work(items[i]!);
      }
    }),
  );
  return out;
}

type ObjectsPage = { value?: GraphObject[]; '@odata.nextLink'?: string };
type IdsPage = { value?: { id: string }[]; '@odata.nextLink'?: string };

/** A page of a chain, on its way to the writers. */
interface ChainPage {
  records: GraphObject[];
  chain: { id: number; next?: string };
}

/** A bounded async queue: producers wait while it holds `capacity` (in the units pushed) or more. */
class Channel<T> {
  private items: { item: T; size: number }[] = [];
  private held = 0;
  private waiters: (() => void)[] = [];
  private closed = false;
  private abandoned = false;
  private failure: Error | undefined;
  constructor(readonly capacity: number) {}

  /** Units held now. */
  get size(): number {
    return this.held;
  }

  /** Closed: the producer finished or failed, or the consumer went away. */
  get isClosed(): boolean {
    return this.closed;
  }

  /** Resolves at the next change (a push, a take, a close, or {@link poke}). */
  changed(): Promise<void> {
    return new Promise<void>((r) => this.waiters.push(r));
  }

  poke(): void {
    this.wakeAll();
  }

  /** Adds `item` of `size` units; an empty channel takes any item, however large. */
  async push(item: T, size = 1): Promise<void> {
    while (this.held > 0 && this.held + size > this.capacity && !this.closed)
      await new Promise<void>((r) => this.waiters.push(r));
    if (this.abandoned) throw new ToolError('ERR_ABANDONED', 'the consumer stopped reading');
    this.items.push({ item, size });
    this.held += size;
    this.wakeAll();
  }

  /** The consumer went away: producers stop at their next push. */
  abandon(): void {
    this.abandoned = true;
    this.close();
  }

  close(error?: unknown): void {
    this.closed = true;
    if (error !== undefined)
      this.failure ??= error instanceof Error ? error : new Error(JSON.stringify(error));
    this.wakeAll();
  }

  async *drain(): AsyncGenerator<T> {
    for (;;) {
      // A producer failed: the consumer hears it now, not after what the others still push.
      if (this.failure) throw this.failure;
      if (this.items.length) {
        const { item, size } = this.items.shift()!;
        this.held -= size;
        this.wakeAll();
        yield item;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((r) => this.waiters.push(r));
    }
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

const header = (h: GraphResponse['headers'], name: string): string | undefined => {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
};

/** What an answer's status and headers tell the limiter. */
export function answerOf(a: { status?: number; headers: GraphResponse['headers'] }, sentAt: number): Answer {
  const ru = Number(header(a.headers, 'x-ms-resource-unit'));
  const pct = Number(header(a.headers, 'x-ms-throttle-limit-percentage'));
  const after = retryAfterMs(a.headers['retry-after']);
  const info = header(a.headers, 'x-ms-throttle-information');
  return {
    sentAt,
    ...(a.status !== undefined ? { status: a.status } : {}),
    ...(after !== undefined ? { retryAfterMs: after } : {}),
    ...(Number.isFinite(ru) && header(a.headers, 'x-ms-resource-unit') !== undefined
      ? { resourceUnits: ru }
      : {}),
    ...(Number.isFinite(pct) && header(a.headers, 'x-ms-throttle-limit-percentage') !== undefined
      ? { limitPercentage: pct }
      : {}),
    ...(info ? { throttleInformation: info } : {}),
  };
}

/** A GET through the limiter: a slot while the request (and its retries) runs, every answer observed. */
export function limitedGet(client: GraphClient, limiter: ConcurrencyLimiter) {
  return async <T>(url: string, headers?: Record<string, string>): Promise<GraphResponse<T>> => {
    const release = await limiter.acquire();
    const sentAt = limiter.now();
    try {
      return await client.get<T>(url, {
        ...(headers ? { headers } : {}),
        onAnswer: (a) => limiter.observe(answerOf(a, sentAt)),
      });
    } finally {
      release();
    }
  };
}

/** One condition of a partition: the property starts with `value`, or (`eq`) is exactly `value`. */
export interface Prefix {
  value: string;
  exact?: boolean;
}

/** A partition: objects matching any of its prefixes, `count` of them. */
export interface Partition {
  prefixes: Prefix[];
  count: number;
}

/** Conditions OR-ed in one filter at most (a list's `$filter` stays short). */
export const MAX_OR = 15;

/** The `$filter` of a partition. */
export function partitionFilter(property: string, p: Pick<Partition, 'prefixes'>): string {
  return p.prefixes
    .map((x) => (x.exact ? `${property} eq ${quote(x.value)}` : `startswith(${property},${quote(x.value)})`))
    .join(' or ');
}

/** `items` in runs of at most {@link MAX_OR}, of about equal length. */
export function chunk<T>(items: readonly T[], size = MAX_OR): T[][] {
  const n = Math.ceil(items.length / size);
  const out: T[][] = [];
  for (let i = 0; i < n; i++)
    out.push(items.slice(Math.floor((i * items.length) / n), Math.floor(((i + 1) * items.length) / n)));
  return out;
}

/**
 * The prefixes one character longer than `prefix` that cover every value starting with it: the
 * alphabet appended, and for a userPrincipalName `@` (a one-character local part), for a mailNickname
 * the value `prefix` itself.
 */
export function extend(property: string, alphabet: readonly string[], prefix: string): Prefix[] {
  const next: Prefix[] = alphabet.map((c) => ({ value: prefix + c }));
  if (property === 'userPrincipalName') next.push({ value: `${prefix}@` });
  else next.push({ value: prefix, exact: true });
  return next;
}

/**
 * Splits a partition while it holds more than `splitAbove` objects: one of several prefixes is halved
 * (one `$count` tells the halves apart); a single prefix shorter than `maxLength` is extended by a
 * character, its parts counted, and kept whole when their counts don't add up to its own (a character
 * outside the alphabet). The result covers the same objects.
 */
export async function splitPartition(
  property: string,
  alphabet: readonly string[],
  part: Partition,
  counter: (filter: string) => Promise<number>,
  options: { splitAbove: number; maxLength: number },
): Promise<Partition[]> {
  const again = (p: Partition) => splitPartition(property, alphabet, p, counter, options);
  if (part.count <= options.splitAbove || part.count === 0) return part.count ? [part] : [];
  if (part.prefixes.length > 1) {
    const half = Math.ceil(part.prefixes.length / 2);
    const a = { prefixes: part.prefixes.slice(0, half), count: 0 };
    a.count = await counter(partitionFilter(property, a));
    const b = { prefixes: part.prefixes.slice(half), count: part.count - a.count };
    if (b.count < 0) return [part];
    return (await Promise.all([again(a), again(b)])).flat();
  }
  const only = part.prefixes[0]!;
  if (only.exact || only.value.length >= options.maxLength) return [part];
  const parts = chunk(extend(property, alphabet, only.value)).map((prefixes) => ({ prefixes, count: 0 }));
  const counts = await Promise.all(parts.map((p) => counter(partitionFilter(property, p))));
  if (counts.reduce((x, y) => x + y, 0) !== part.count) return [part];
  parts.forEach((p, i) => (p.count = counts[i]!));
  return (await Promise.all(parts.map(again))).flat();
}

/** Graph's RU budget per second for an app in a tenant of `users` users (throttling-limits.md). */
export function ruBudgetPerSecond(users: number): number {
  return (users < 50 ? 3500 : users <= 500 ? 5000 : 8000) / 10;
}

/**
 * The parallel complete round of one entity, as SourceMsg like the sequential source. Yields `mode`
 * first (complete, or the reason it fell back), then pages in no particular order, then the state.
 * When the partitions don't cover the collection (or `auto` finds the round small or Graph near),
 * it delegates to `fallback`.
 */
export async function* graphParallel(
  options: ParallelSourceOptions,
  fallback: () => AsyncGenerator<SourceMsg>,
): AsyncGenerator<SourceMsg> {
  const { client, entity, logger } = options;
  const auto = options.parallel === 'auto';
  const property = partitionProperty(entity);
  const collection = entityInfo(entity).collection;
  const select = [...options.attributes, ...options.navigations].join(',');
  if (!property) {
    yield* fallback();
    return;
  }
  const limiter =
    options.limiter ?? (auto ? aimdConcurrency() : fixedConcurrency(options.parallel as number));
  const get = limitedGet(client, limiter);
  const count = async (filter?: string) => {
    const url = `${collection}/$count${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`;
    const r = await get<unknown>(url, EVENTUAL);
    const n = typeof r.body === 'number' ? r.body : Number(r.body);
    if (!Number.isInteger(n))
      throw new ToolError('ERR_GRAPH_RESPONSE', `${printableUrl(url)} did not return a count`);
    return n;
  };
  const timed = async <T>(p: () => Promise<T>): Promise<[T, number]> => {
    const t = performance.now();
    const v = await p();
    return [v, performance.now() - t];
  };

  let deltaLink: string;
  let partitions: { filter: string; count: number }[] = [];
  const resume = options.resume;
  if (resume) deltaLink = resume.deltaLink;
  else {
    // 1. The size of the collection (auto decides from it), and the state to keep, taken before listing.
    let total: number;
    let nearMs = Infinity;
    if (auto) {
      try {
        const [n, ms] = await timed(() => count());
        total = n;
        nearMs = ms;
      } catch (e) {
        logger.verbose(
          `${entity}: --parallel auto: no $count (${(e as Error).message}); the sequential round`,
        );
        yield* fallback();
        return;
      }
      const min = options.autoMinObjects ?? (options.navigations.length ? 1000 : 5000);
      if (total < min) {
        logger.verbose(`${entity}: --parallel auto: ${total} objects; the sequential round`);
        yield* fallback();
        return;
      }
    }
    const [latest, latestMs] = await timed(() =>
      get<{ '@odata.deltaLink'?: string }>(`${collection}/delta?$select=${select}&$deltatoken=latest`),
    );
    nearMs = Math.min(nearMs, latestMs);
    const latestLink = latest.body['@odata.deltaLink'];
    if (!latestLink)
      throw new ToolError(
        'ERR_GRAPH_RESPONSE',
        `${collection}/delta?$deltatoken=latest returned no deltaLink`,
      );
    if (auto && nearMs < (options.autoMinLatencyMs ?? 20)) {
      logger.verbose(
        `${entity}: --parallel auto: Graph answers in ${nearMs.toFixed(0)} ms, no latency to hide; the sequential round`,
      );
      yield* fallback();
      return;
    }

    // 2. Partitions, and their counts against the collection's.
    const alphabet = entity === 'user' ? UPN_FIRST : NICKNAME_FIRST;
    const firsts = chunk(alphabet.map((c) => ({ value: c }))).map((prefixes) => ({ prefixes, count: 0 }));
    const [all, ...firstCounts] = await Promise.all([
      auto ? Promise.resolve(total!) : count(),
      ...firsts.map((p) => count(partitionFilter(property, p))),
    ]);
    total = all!;
    const sum = firstCounts.reduce((a, b) => a + b, 0);
    if (sum !== total) {
      logger.warn(
        `${entity}: partitions by ${property} cover ${sum} of ${total} objects; running the sequential delta round`,
      );
      for await (const msg of fallback()) {
        if (msg.kind === 'mode') yield { ...msg, reason: 'parallel partitions incomplete' };
        else yield msg;
      }
      return;
    }
    firsts.forEach((p, i) => (p.count = firstCounts[i]!));
    // Fine enough that the window, not the partitions, bounds the requests in flight: a partition of
    // more than four pages, or of more than its share of two partitions per slot, is split.
    const splitAbove = Math.max(4 * PAGE, Math.ceil(total / (2 * limiter.max)));
    partitions = (
      await Promise.all(
        firsts.map((p) =>
          splitPartition(property, alphabet, p, (f) => count(f), { splitAbove, maxLength: 3 }),
        ),
      )
    )
      .flat()
      // The longest chains first, so that the last to finish is a short one.
      .sort((a, b) => b.count - a.count)
      .map((p) => ({ filter: partitionFilter(property, p), count: p.count }));
    deltaLink = latestLink;
  }
  const ledger = options.ledger ?? new ChainLedger();
  yield { kind: 'mode', entity, mode: 'complete' };

  const channel = new Channel<ChainPage>(options.bufferBytes ?? 12 * 1024 * 1024);
  // A page counts against the buffer's bytes from the request that asks for it until the writers take
  // it: on its way (at the average size), then parsed and held by its worker until the channel has
  // room (`arrived`), then in the channel. A request starts only when the buffer has room for one more
  // page of the average size, so memory stays flat whatever the window.
  let coming = 0;
  let arrived = 0;
  let average = 0;
  const page = async <T>(url: string): Promise<GraphResponse<T>> => {
    // Until a page has come, the size of one is not known: one at a time. With nothing counted at
    // all, one page may go over the bytes.
    while (
      !channel.isClosed &&
      coming + arrived + channel.size > 0 &&
      (average === 0 || channel.size + arrived + (coming + 1) * average > channel.capacity)
    )
      await channel.changed();
    coming++;
    try {
      const r = await get<T>(url);
      const size = r.size ?? 0;
      average = average ? average * 0.8 + size * 0.2 : size;
      arrived += size;
      return r;
    } finally {
      coming--;
      channel.poke();
    }
  };
  /** Hands a page (if any) to the channel, which counts it from then on instead of `arrived`. */
  const hand = async (r: GraphResponse, item: ChainPage | undefined) => {
    try {
      // Empty pages too: their chain moves on (or ends) when the writers have taken them.
      if (item) await channel.push(item, r.size ?? 1);
    } finally {
      arrived -= r.size ?? 0;
      channel.poke();
    }
  };
  const listUrl = (filter: string, select: string) =>
    `${collection}?$select=${select}&$filter=${encodeURIComponent(filter)}&$top=${options.pageSize ?? PAGE}`;
  const scopedUrl = (ids: string[]) =>
    `${collection}/delta?$select=${select}&$filter=${encodeURIComponent(ids.map((id) => `id eq ${quote(id)}`).join(' or '))}`;
  /** A page of a chain a checkpoint left: Graph may no longer honour its link (then the round starts over). */
  const first = async <T>(url: string, resumed: boolean, fetch: (u: string) => Promise<T>): Promise<T> => {
    try {
      return await fetch(url);
    } catch (e) {
      if (resumed && linkRefused(e))
        throw new ToolError(
          'ERR_RESUME_EXPIRED',
          `Graph no longer honours the checkpointed ${entity} link (${(e as GraphHttpError).status}${(e as GraphHttpError).graphCode ? ` ${(e as GraphHttpError).graphCode}` : ''})`,
        );
      throw e;
    }
  };
  // Every chain and listing is in the ledger before any page of it is read.
  const listChains =
    options.navigations.length === 0
      ? (resume?.chains ?? partitions.map((p) => listUrl(p.filter, options.attributes.join(',')))).map(
          (url) => ({ id: ledger.open(url), url, resumed: resume !== undefined }),
        )
      : [];
  const resumedRounds =
    options.navigations.length > 0
      ? (resume?.chains ?? []).map((url) => ({ id: ledger.open(url), url, resumed: true }))
      : [];
  const listings =
    options.navigations.length > 0
      ? (resume?.listings ?? partitions.map((p) => ({ next: listUrl(p.filter, 'id'), carry: [] }))).map((l) =>
          ledger.listing(l.next, [...l.carry]),
        )
      : [];
  ledger.planned(deltaLink, resume?.partitions ?? partitions.length);
  const producer = (async () => {
    // Lists carry no `@delta` links: an entity with navigations (groups' members, users' manager) reads
    // them through id-scoped delta rounds instead.
    if (options.navigations.length === 0) {
      await pool(listChains, limiter.max, async ({ id, url: start, resumed }) => {
        let url: string | undefined = start;
        let again = resumed;
        while (url) {
          const r: GraphResponse<ObjectsPage> = await first(url, again, (u) => page<ObjectsPage>(u));
          again = false;
          const records = r.body.value;
          const next: string | undefined = r.body['@odata.nextLink'];
          await hand(
            r,
            Array.isArray(records)
              ? { records: records.map(asDeltaRecord), chain: { id, ...(next ? { next } : {}) } }
              : undefined,
          );
          if (!Array.isArray(records))
            throw new ToolError('ERR_GRAPH_RESPONSE', `${printableUrl(url)} has no "value" array`);
          url = next;
        }
      });
      return;
    }
    // Objects with links: ids by partition, then id-scoped delta rounds of 50 objects each.
    const idQueue = new Channel<{ id: number; url: string; resumed: boolean }>(Math.max(4, limiter.max * 2));
    const lister = (async () => {
      for (const round of resumedRounds) await idQueue.push(round);
      await pool(listings, Math.max(1, Math.floor(limiter.max / 2)), async (listing) => {
        // A chain is opened in the same step as its ids leave the listing's carry.
        const take = async (all: boolean) => {
          while (listing.carry.length >= IDS_PER_ROUND || (all && listing.carry.length > 0)) {
            const url = scopedUrl(listing.carry.splice(0, IDS_PER_ROUND));
            await idQueue.push({ id: ledger.open(url), url, resumed: false });
          }
        };
        await take(false);
        let again = resume !== undefined;
        while (listing.next) {
          const url: string = listing.next;
          const r: GraphResponse<IdsPage> = await first(url, again, (u) => get<IdsPage>(u));
          again = false;
          for (const o of r.body.value ?? []) listing.carry.push(o.id);
          const next = r.body['@odata.nextLink'];
          if (next) listing.next = next;
          else delete listing.next;
          await take(false);
        }
        await take(true);
      });
    })().then(
      () => idQueue.close(),
      (e: unknown) => idQueue.close(e),
    );
    const workers = Array.from({ length: limiter.max }, async () => {
      for await (const { id, url: start, resumed } of idQueue.drain()) {
        let url: string | undefined = start;
        let again = resumed;
        const followed = new Set<string>();
        const emitted = new Set<string>();
        while (url) {
          const r: GraphResponse<ObjectsPage> = await first(url, again, (u) => page<ObjectsPage>(u));
          again = false;
          // A large group comes back on the next page with its next slice of members: links only.
          // (A round resumed mid-way knows that from the ids already written: see the router.)
          for (const record of r.body.value ?? [])
            if (emitted.has(record.id)) record[LINKS_ONLY] = true;
            else emitted.add(record.id);
          const next: string | undefined = r.body['@odata.nextLink'];
          await hand(r, { records: r.body.value ?? [], chain: { id, ...(next ? { next } : {}) } });
          url = next;
          if (url && followed.has(url))
            throw new ToolError('ERR_GRAPH_PAGINATION_LOOP', `repeated nextLink ${printableUrl(url)}`);
          if (url) followed.add(url);
        }
      }
    });
    await Promise.all([lister, ...workers]);
  })().then(
    () => channel.close(),
    (e: unknown) => channel.close(e),
  );
  try {
    for await (const { records, chain } of channel.drain()) yield { kind: 'page', entity, records, chain };
  } finally {
    channel.abandon();
  }
  await producer;
  const st = limiter.stats;
  logger.verbose(
    `${entity}: ${resume?.partitions ?? partitions.length} partitions${resume ? ' (resumed)' : ''}; ${auto ? `window up to ${st.peak} (auto)` : `${limiter.max} in flight`}, ${st.throttled} throttled, ${st.resourceUnits} RU`,
  );
  yield { kind: 'state', entity, deltaLink };
}
