import { entityInfo, isDirectoryExtension, type EntityName } from '../graph/schema.js';
import { errors, graphError } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import {
  compileFilter,
  compileSearch,
  objectTest,
  parseOrder,
  queryMode,
  type Compare,
  type QueryMode,
} from './query-options.js';
import type { FilterNode } from './odata-filter.js';
import { renderObject, resolveSelect } from './render.js';
import type { TokenCodec } from './state-token.js';
import type { StoredObject } from './store.js';

export interface ListContext {
  codec: TokenCodec;
  instance: string;
  /**
   * The emulator's clock and how long a skip token is honoured: Graph documents no lifetime, but
   * answers `400 Directory_ExpiredPageToken` to an old one; the emulator gives them the delta tokens' 7 days.
   */
  now?: () => number;
  tokenLifetimeMs?: number;
}

/**
 * One collection Graph pages through: an entity set, a navigation (`/groups/{id}/members`, with or
 * without a type cast), `memberOf`, `directReports`. `source` yields the live objects from a position
 * on, in a stable order: positions survive changes between pages, so paging skips nobody.
 */
export interface ListSpec {
  /** Names the list in its skip tokens: a token of another list is refused. */
  key: string;
  /** The types the list may hold (one for an entity set or a cast). */
  entities: EntityName[];
  source: (from: number) => Iterable<[number, StoredObject]>;
  /** `@odata.context` without a `$select` suffix, e.g. `https://.../v1.0/$metadata#users`. */
  context: string;
  /** The list's URL, without query, for nextLinks. */
  url: string;
  /** Items carry `@odata.type` (lists of directoryObjects). */
  odataType: boolean;
  /** False for the few collections Graph does not page (directoryRoles): `$top` is ignored. */
  paged: boolean;
  /** The number of objects, when there is no `$filter`/`$search` (saves a scan of a large tenant). */
  size?: () => number;
  /** The positions (ascending) matching a filter from an index, when one answers it (prefix-index.ts). */
  indexed?: (filter: FilterNode) => Int32Array | undefined;
}

interface ListState {
  n: string; // emulator instance
  k: string; // list key
  s: string | null; // $select as given
  f: string | null; // $filter as given
  q: string | null; // $search as given
  c: number; // page size
  o: number; // next position, or index in the sorted matches
  r?: string; // $orderby as given
  m: QueryMode; // how the first request asked
  t?: number; // when the first page was asked (the emulator's clock)
}

/** Property names of `$select` for one object: those its type has (lists of mixed types). */
function selectionFor(entity: EntityName, select: string | null): string[] {
  const r = resolveSelect(entity, select, false);
  if (r.ok) return r.selection.props;
  const known = entityInfo(entity).properties;
  const lower = new Map([...known.keys()].map((k) => [k.toLowerCase(), k]));
  const props: string[] = [];
  for (const raw of (select ?? '').split(',')) {
    const name = lower.get(raw.trim().toLowerCase());
    if (name && known.get(name)?.kind === 'structural' && !props.includes(name)) props.push(name);
  }
  return props.length ? props : ['id'];
}

/** Checks `$select` against the list's types: a name none of them has is Graph's 400. */
function checkSelect(
  req: EmuRequest,
  entities: EntityName[],
  select: string | null,
): EmuResponse | undefined {
  if (select === null) return undefined;
  if (entities.length === 1) {
    const r = resolveSelect(entities[0]!, select, false);
    return r.ok ? undefined : graphError(req, r.status, r.code, r.message);
  }
  for (const raw of select.split(',')) {
    const name = raw.trim();
    if (!name || isDirectoryExtension(name)) continue;
    if (
      !entities.some((e) =>
        [...entityInfo(e).properties.keys()].some((k) => k.toLowerCase() === name.toLowerCase()),
      )
    )
      return errors.badRequest(
        req,
        `Could not find a property named '${name}' on type 'microsoft.graph.directoryObject'.`,
      );
  }
  return undefined;
}

/** Answers one page of a list with `$select`, `$filter`, `$search`, `$orderby`, `$top`, `$count`. */
export function listObjects(req: EmuRequest, spec: ListSpec, ctx: ListContext): EmuResponse {
  const q = req.url.searchParams;
  let state: ListState;
  const skip = q.get('$skiptoken');
  if (skip !== null) {
    const decoded = ctx.codec.decode<ListState>(skip);
    if (!decoded || decoded.k !== spec.key || decoded.n !== ctx.instance)
      return errors.badRequest(req, 'The skip token is malformed or expired.');
    if (ctx.now && ctx.tokenLifetimeMs !== undefined && ctx.now() - (decoded.t ?? 0) > ctx.tokenLifetimeMs)
      return graphError(
        req,
        400,
        'Directory_ExpiredPageToken',
        'The specified page token value has expired and can no longer be included in your request.',
      );
    state = decoded;
  } else {
    const top = q.has('$top') && spec.paged ? Number(q.get('$top')) : 100;
    if (!Number.isInteger(top) || top < 1 || top > 999)
      return errors.badRequest(
        req,
        `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`,
      );
    state = {
      n: ctx.instance,
      k: spec.key,
      s: q.get('$select'),
      f: q.get('$filter'),
      q: q.get('$search'),
      c: spec.paged ? top : Number.MAX_SAFE_INTEGER,
      o: 0,
      m: queryMode(req),
      ...(q.has('$orderby') ? { r: q.get('$orderby')! } : {}),
      ...(ctx.now ? { t: ctx.now() } : {}),
    };
  }
  const bad = checkSelect(req, spec.entities, state.s);
  if (bad) return bad;
  const filter = compileFilter(req, spec.entities, state.f, state.m);
  if (!filter.ok) return filter.response;
  const search = compileSearch(req, spec.entities, state.q, state.m);
  if (!search.ok) return search.response;
  const test = objectTest(filter.node, search.node);
  const indexed = filter.node && !search.node && spec.indexed ? spec.indexed(filter.node) : undefined;
  let order: Compare | undefined;
  if (state.r !== undefined) {
    const parsed = parseOrder(req, spec.entities[0]!, state.r, state.f !== null, state.m);
    if (typeof parsed !== 'function') return parsed;
    order = parsed;
  }
  const render = (o: StoredObject) =>
    renderObject(o, selectionFor(o.entity, state.s), { nulls: true, odataType: spec.odataType });
  const value: Record<string, unknown>[] = [];
  let next: number | undefined;
  let count: number | undefined;
  if (order) {
    // Sorting needs every match: fine for the queries that sort, which are not the bulk-read path.
    const all: StoredObject[] = [];
    for (const [, o] of spec.source(0)) if (test(o)) all.push(o);
    all.sort(order);
    for (const o of all.slice(state.o, state.o + state.c)) value.push(render(o));
    if (state.o + state.c < all.length) next = state.o + state.c;
    count = all.length;
  } else if (indexed) {
    // The positions from the index, in source order; the page starts at the first one at `o` or after.
    let lo = 0;
    let hi = indexed.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (indexed[mid]! < state.o) lo = mid + 1;
      else hi = mid;
    }
    for (const [position, o] of positionsSource(spec, indexed, lo)) {
      if (!test(o)) continue;
      if (value.length === state.c) {
        next = position;
        break;
      }
      value.push(render(o));
    }
  } else {
    for (const [position, o] of spec.source(state.o)) {
      if (!test(o)) continue;
      // One match past the page says there is a next page: no nextLink to an empty page.
      if (value.length === state.c) {
        next = position;
        break;
      }
      value.push(render(o));
    }
  }
  const body: Record<string, unknown> = {
    '@odata.context': state.s ? `${spec.context}(${state.s})` : spec.context,
  };
  // `$count=true` without ConsistencyLevel is silently ignored (aad-advanced-queries.md).
  if (skip === null && q.get('$count') === 'true' && state.m.eventual) {
    if (count === undefined && !filter.node && !search.node && spec.size) count = spec.size();
    if (count === undefined) {
      count = 0;
      const all = indexed ? positionsSource(spec, indexed, 0) : spec.source(0);
      for (const [, o] of all) if (test(o)) count++;
    }
    body['@odata.count'] = count;
  }
  if (next !== undefined)
    body['@odata.nextLink'] = `${spec.url}?$skiptoken=${ctx.codec.encode({ ...state, o: next })}`;
  body.value = value;
  return { status: 200, body };
}

/** The objects at `positions` (from `from` on), read one position at a time through `spec.source`. */
function* positionsSource(
  spec: Pick<ListSpec, 'source'>,
  positions: Int32Array,
  from: number,
): IterableIterator<[number, StoredObject]> {
  for (let i = from; i < positions.length; i++) {
    const p = positions[i]!;
    for (const entry of spec.source(p)) {
      if (entry[0] === p) yield entry;
      break;
    }
  }
}

/** `.../$count` of a list (needs `ConsistencyLevel: eventual`), as text/plain. */
export function countObjects(
  req: EmuRequest,
  spec: Pick<ListSpec, 'entities' | 'source' | 'indexed'>,
): EmuResponse {
  const mode = { eventual: queryMode(req).eventual, advanced: true };
  if (!mode.eventual) return errors.badRequest(req, '$count is not currently supported.');
  const filter = compileFilter(req, spec.entities, req.url.searchParams.get('$filter'), mode);
  if (!filter.ok) return filter.response;
  const search = compileSearch(req, spec.entities, req.url.searchParams.get('$search'), mode);
  if (!search.ok) return search.response;
  const test = objectTest(filter.node, search.node);
  const indexed = filter.node && !search.node && spec.indexed ? spec.indexed(filter.node) : undefined;
  let count = 0;
  for (const [, o] of indexed ? positionsSource(spec, indexed, 0) : spec.source(0)) if (test(o)) count++;
  return { status: 200, headers: { 'Content-Type': 'text/plain' }, body: String(count) };
}
