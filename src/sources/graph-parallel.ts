import { printableUrl, type GraphClient } from '../graph/client.js';
import { entityInfo, type EntityName } from '../graph/schema.js';
import { ToolError } from '../errors.js';
import { LINKS_ONLY, type GraphObject, type Logger, type SourceMsg } from '../types.js';

/**
 * The parallel complete mode (`entra export --parallel N`). A delta round is one sequential chain of
 * pages; a complete export of a large tenant is bound by its latency. Instead:
 *  1. take a `$deltatoken=latest` deltaLink first: every change from now on reaches the next
 *     incremental round, so nothing that happens while we list is lost;
 *  2. list the collection in partitions that are complete by construction: Graph restricts the first
 *     character of userPrincipalName and mailNickname to known alphabets, so `startswith` on each
 *     character covers every object; the partitions' `$count`s must add up to the collection's
 *     `$count`, or the entity falls back to the sequential delta round before anything is emitted;
 *  3. links (groups' members and owners, users' manager) come from delta rounds scoped to 50 ids each
 *     (`$filter=id eq ...`), run in parallel: no request per object, and large groups page through
 *     their members as usual.
 */
export interface ParallelSourceOptions {
  client: GraphClient;
  entity: EntityName;
  /** Structural attributes (with id) and navigations, as in the sequential round's `$select`. */
  attributes: string[];
  navigations: string[];
  /** Requests in flight for this entity. */
  parallel: number;
  logger: Logger;
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
 * collections as `[]`) where delta omits them, so the rows come out the same either way.
 */
function asDeltaRecord(o: GraphObject): GraphObject {
  for (const key of Object.keys(o)) {
    const v = o[key];
    if (v === null || (Array.isArray(v) && v.length === 0)) delete o[key];
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

/** A bounded async queue: producers wait while it is full, so memory stays flat. */
class Channel<T> {
  private items: T[] = [];
  private waiters: (() => void)[] = [];
  private closed = false;
  private abandoned = false;
  private failure: Error | undefined;
  constructor(private readonly capacity: number) {}

  async push(item: T): Promise<void> {
    while (this.items.length >= this.capacity && !this.closed)
      await new Promise<void>((r) => this.waiters.push(r));
    if (this.abandoned) throw new ToolError('ERR_ABANDONED', 'the consumer stopped reading');
    this.items.push(item);
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
      if (this.items.length) {
        const item = this.items.shift()!;
        this.wakeAll();
        yield item;
        continue;
      }
      if (this.failure) throw this.failure;
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

/**
 * The parallel complete round of one entity, as SourceMsg like the sequential source. Yields `mode`
 * first (complete, or the reason it fell back), then pages in no particular order, then the state.
 * Returns undefined-free: when the partitions don't cover the collection, it delegates to `fallback`.
 */
export async function* graphParallel(
  options: ParallelSourceOptions,
  fallback: () => AsyncGenerator<SourceMsg>,
): AsyncGenerator<SourceMsg> {
  const { client, entity, parallel, logger } = options;
  const property = partitionProperty(entity);
  const collection = entityInfo(entity).collection;
  const select = [...options.attributes, ...options.navigations].join(',');
  if (!property) {
    yield* fallback();
    return;
  }
  // 1. The state to keep, taken before listing.
  const latest = await client.get<{ '@odata.deltaLink'?: string }>(
    `${collection}/delta?$select=${select}&$deltatoken=latest`,
  );
  const deltaLink = latest.body['@odata.deltaLink'];
  if (!deltaLink)
    throw new ToolError('ERR_GRAPH_RESPONSE', `${collection}/delta?$deltatoken=latest returned no deltaLink`);

  // 2. Partitions, and their counts against the collection's.
  const alphabet = entity === 'user' ? UPN_FIRST : NICKNAME_FIRST;
  const filters = alphabet.map((c) => `startswith(${property},${quote(c)})`);
  const count = async (filter?: string) => {
    const url = `${collection}/$count${filter ? `?$filter=${encodeURIComponent(filter)}` : ''}`;
    const r = await client.get<unknown>(url, { headers: EVENTUAL });
    const n = typeof r.body === 'number' ? r.body : Number(r.body);
    if (!Number.isInteger(n))
      throw new ToolError('ERR_GRAPH_RESPONSE', `${printableUrl(url)} did not return a count`);
    return n;
  };
  const [total, ...parts] = await pool([undefined, ...filters], parallel, count);
  const sum = parts.reduce((a, b) => a + b, 0);
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
  yield { kind: 'mode', entity, mode: 'complete' };

  const channel = new Channel<GraphObject[]>(parallel * 2);
  const nonEmpty = filters.filter((_, i) => parts[i]! > 0);
  const producer = (async () => {
    // Lists carry no `@delta` links: an entity with navigations (groups' members, users' manager) reads
    // them through id-scoped delta rounds instead.
    if (options.navigations.length === 0) {
      await pool(nonEmpty, parallel, async (filter) => {
        let url: string | undefined =
          `${collection}?$select=${options.attributes.join(',')}&$filter=${encodeURIComponent(filter)}&$top=999`;
        while (url) {
          const page: { body: { value?: GraphObject[]; '@odata.nextLink'?: string } } = await client.get(url);
          if (!Array.isArray(page.body.value))
            throw new ToolError('ERR_GRAPH_RESPONSE', `${printableUrl(url)} has no "value" array`);
          if (page.body.value.length) await channel.push(page.body.value.map(asDeltaRecord));
          url = page.body['@odata.nextLink'];
        }
      });
      return;
    }
    // Objects with links: ids by partition, then id-scoped delta rounds of 50 objects each.
    const idQueue = new Channel<string[]>(parallel * 2);
    const lister = pool(nonEmpty, Math.max(1, Math.floor(parallel / 2)), async (filter) => {
      let url: string | undefined = `${collection}?$select=id&$filter=${encodeURIComponent(filter)}&$top=999`;
      let chunk: string[] = [];
      while (url) {
        const page: { body: { value?: { id: string }[]; '@odata.nextLink'?: string } } =
          await client.get(url);
        for (const o of page.body.value ?? []) {
          chunk.push(o.id);
          if (chunk.length === 50) {
            await idQueue.push(chunk);
            chunk = [];
          }
        }
        url = page.body['@odata.nextLink'];
      }
      if (chunk.length) await idQueue.push(chunk);
    }).then(
      () => idQueue.close(),
      (e: unknown) => idQueue.close(e),
    );
    const workers = Array.from({ length: parallel }, async () => {
      for await (const ids of idQueue.drain()) {
        const filter = ids.map((id) => `id eq ${quote(id)}`).join(' or ');
        let url: string | undefined =
          `${collection}/delta?$select=${select}&$filter=${encodeURIComponent(filter)}`;
        const followed = new Set<string>();
        const emitted = new Set<string>();
        while (url) {
          const page: { body: { value?: GraphObject[]; '@odata.nextLink'?: string } } = await client.get(url);
          // A large group comes back on the next page with its next slice of members: links only.
          for (const record of page.body.value ?? [])
            if (emitted.has(record.id)) record[LINKS_ONLY] = true;
            else emitted.add(record.id);
          if (page.body.value?.length) await channel.push(page.body.value);
          url = page.body['@odata.nextLink'];
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
    for await (const records of channel.drain()) yield { kind: 'page', entity, records };
  } finally {
    channel.abandon();
  }
  await producer;
  yield { kind: 'state', entity, deltaLink };
}
