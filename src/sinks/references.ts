import { ToolError } from '../errors.js';
import type { GraphClient } from '../graph/client.js';
import { graphErrorOf } from '../graph/graph-error.js';
import type { ObjectReference, ReferenceResolver, Resolution } from '../types.js';

/**
 * Fulfill's references: a user named by userPrincipalName, a group by mailNickname, where an id is
 * expected. Each key is resolved once per run: first from the creates of the run itself (their new id,
 * or the id of the object a replayed create found), else by asking Graph (`GET /users/{upn}?$select=id`,
 * `GET /groups?$filter=mailNickname eq '…'&$select=id`). Both memories are bounded (least recently used
 * keys go first, and are looked up again when named again), so that memory stays flat on any input.
 */

export interface ReferencesOptions {
  /** Graph, for lookups; none for a `--dry-run` without settings (references are then unchecked). */
  client?: GraphClient | undefined;
  /** Keys remembered, at most, per memory (default 100,000). */
  limit?: number;
}

type Known = { id: string } | { planned: string } | { failed: string };

/** A Map that forgets its least recently used entries beyond `limit`. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(private readonly limit: number) {}
  get(key: string): V | undefined {
    const value = this.map.get(key);
    if (value !== undefined) {
      this.map.delete(key);
      this.map.set(key, value);
    }
    return value;
  }
  set(key: string, value: V): void {
    this.map.delete(key);
    this.map.set(key, value);
    if (this.map.size > this.limit) this.map.delete(this.map.keys().next().value!);
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

// Graph's answers that say "try again": the lookup is retried with the row, never taken for "absent".
const RETRY = (status: number) => status === 429 || status >= 500;

/** A lookup Graph refused (400, 403...): the row fails with Graph's own words. */
function refused(ref: ObjectReference, status: number, body: unknown): string {
  const { code, message } = graphErrorOf(body);
  return `${ref.column}: looking up ${ref.property} ${JSON.stringify(ref.value)} failed: Graph answered ${status}${code ? ` ${code}` : ''}${message ? `: ${message}` : ''}`;
}

export class References implements ReferenceResolver {
  private readonly known: Lru<Known>;
  private readonly looked: Lru<Promise<Resolution>>;
  /** Lookups sent to Graph (a key named again is answered from memory). */
  lookups = 0;

  constructor(private readonly options: ReferencesOptions = {}) {
    const limit = options.limit ?? 100_000;
    this.known = new Lru(limit);
    this.looked = new Lru(limit);
  }

  created(key: string, id: string): void {
    this.known.set(key, { id });
    this.looked.delete(key);
  }

  createFailed(key: string, where: string): void {
    const known = this.known.get(key);
    if (!known || !('id' in known)) this.known.set(key, { failed: where });
  }

  planned(key: string, where: string): void {
    this.known.set(key, { planned: where });
  }

  forget(key: string): void {
    this.known.delete(key);
    this.looked.delete(key);
  }

  learned(key: string): string | undefined {
    const known = this.known.get(key);
    return known && 'id' in known ? known.id : undefined;
  }

  /**
   * The id `ref` names, `{ planned }` for an object a `--dry-run` plans to create, or `{ missing }` with
   * why there is none (no such object, several groups with that mailNickname, a create of it that
   * failed). Throws ERR_GRAPH_LOOKUP when Graph cannot tell (429, 5xx, network): the caller retries.
   */
  async resolve(ref: ObjectReference): Promise<Resolution> {
    const known = this.known.get(ref.key);
    if (known && 'id' in known) return { id: known.id };
    if (known && 'planned' in known) return { planned: known.planned };
    const { client } = this.options;
    if (!client) return { unchecked: true };
    let pending = this.looked.get(ref.key);
    if (!pending) {
      pending = this.lookUp(client, ref);
      this.looked.set(ref.key, pending);
      // A lookup that could not tell is not remembered: the next row asks again.
      pending.catch(() => this.looked.delete(ref.key));
    }
    const found = await pending;
    if ('missing' in found && known && 'failed' in known)
      return { missing: `${found.missing}: its insert on ${known.failed} failed` };
    return found;
  }

  private async lookUp(client: GraphClient, ref: ObjectReference): Promise<Resolution> {
    this.lookups++;
    const what = `${ref.column}: no ${ref.collection === 'users' ? 'user' : 'group'} has ${ref.property} ${JSON.stringify(ref.value)}`;
    const unsure = (status: number) =>
      new ToolError(
        'ERR_GRAPH_LOOKUP',
        `looking up ${ref.property} ${JSON.stringify(ref.value)} failed: Graph answered ${status}`,
      );
    if (ref.collection === 'users') {
      const r = await client.get<{ id?: string }>(`users/${encodeURIComponent(ref.value)}?$select=id`, {
        throwHttpErrors: false,
      });
      if (r.status === 200 && typeof r.body?.id === 'string') return { id: r.body.id };
      if (r.status === 404) return { missing: what };
      if (RETRY(r.status) || r.status === 200) throw unsure(r.status);
      return { missing: refused(ref, r.status, r.body) };
    }
    const nick = ref.value.replace(/'/g, "''");
    const r = await client.get<{ value?: { id: string }[] }>(
      `groups?$filter=${encodeURIComponent(`mailNickname eq '${nick}'`)}&$select=id&$top=2`,
      { throwHttpErrors: false },
    );
    if (r.status === 200 && Array.isArray(r.body?.value)) {
      const ids = r.body.value.map((g) => g.id);
      if (ids.length === 1) return { id: ids[0]! };
      if (ids.length === 0) return { missing: what };
      return {
        missing: `${ref.column}: more than one group has mailNickname ${JSON.stringify(ref.value)} (${ids.join(', ')}): name the group by its id`,
      };
    }
    if (RETRY(r.status) || r.status === 200) throw unsure(r.status);
    return { missing: refused(ref, r.status, r.body) };
  }
}
