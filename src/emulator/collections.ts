import { entityInfo, type EntityName } from '../graph/schema.js';
import { errors, graphError } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import {
  FILTERABLE,
  FilterError,
  filterShape,
  matches,
  parseFilter,
  type FilterNode,
} from './odata-filter.js';
import { renderObject, resolveSelect } from './render.js';
import type { TokenCodec } from './state-token.js';
import type { DirectoryStore, StoredObject } from './store.js';

export interface CollectionContext {
  store: DirectoryStore;
  codec: TokenCodec;
  instance: string;
}

interface ListState {
  n: string;
  e: EntityName;
  s: string | null; // $select as given
  f: string | null; // $filter as given
  c: number; // page size
  o: number; // slot index, link offset for navigation lists, or position in the sorted matches
  r?: string; // $orderby as given
  m?: QueryMode; // how the first request asked
  owner?: string;
  nav?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when the request carries Graph's advanced-query switch. */
function eventual(req: EmuRequest): boolean {
  return String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
}

/** How a query was asked: with `ConsistencyLevel: eventual`, and with `$count=true` too (advanced). */
interface QueryMode {
  eventual: boolean;
  advanced: boolean;
}

function queryMode(req: EmuRequest): QueryMode {
  const e = eventual(req);
  return { eventual: e, advanced: e && req.url.searchParams.get('$count') === 'true' };
}

/** Parses `$filter` and checks it against what the entity supports. */
function compileFilter(
  req: EmuRequest,
  entity: EntityName,
  text: string | null,
  mode: QueryMode,
): { ok: true; node: FilterNode | null } | { ok: false; response: EmuResponse } {
  if (text === null) return { ok: true, node: null };
  try {
    const node = parseFilter(text);
    const shape = filterShape(node);
    for (const prop of shape.props)
      if (!FILTERABLE[entity].includes(prop) && !(mode.eventual && entityInfo(entity).properties.has(prop)))
        return {
          ok: false,
          response: errors.unsupportedQuery(
            req,
            `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${entity[0]!.toUpperCase()}${entity.slice(1)}'.`,
          ),
        };
    if (shape.advanced && !mode.advanced)
      return {
        ok: false,
        response: errors.unsupportedQuery(
          req,
          "Operator 'ne' or 'not' or 'endsWith' requires advanced query parameters.",
        ),
      };
    return { ok: true, node };
  } catch (e) {
    if (e instanceof FilterError) return { ok: false, response: errors.badRequest(req, e.message) };
    throw e;
  }
}

function filterTest(node: FilterNode | null): (o: StoredObject) => boolean {
  if (!node) return () => true;
  return (o) => matches(node, (p) => (p === 'id' ? o.id : o.data[p]));
}

/** `GET /{collection}` with `$select`, `$filter`, `$top`, `$count` and nextLink paging. */
export function handleList(
  req: EmuRequest,
  entity: EntityName,
  collectionUrl: string,
  ctx: CollectionContext,
): EmuResponse {
  const q = req.url.searchParams;
  let state: ListState;
  const skip = q.get('$skiptoken');
  if (skip !== null) {
    const decoded = ctx.codec.decode<ListState>(skip);
    if (!decoded || decoded.e !== entity || decoded.owner || decoded.n !== ctx.instance)
      return errors.badRequest(req, 'The skip token is malformed or expired.');
    state = decoded;
  } else {
    if (q.has('$search'))
      return eventual(req)
        ? errors.unsupportedQuery(req, 'The emulator does not support $search.')
        : errors.badRequest(req, 'Search is not supported without the ConsistencyLevel: eventual header.');
    if (q.has('$count') && !eventual(req))
      return errors.badRequest(req, '$count is not currently supported.');
    const top = q.has('$top') ? Number(q.get('$top')) : 100;
    if (!Number.isInteger(top) || top < 1 || top > 999)
      return errors.badRequest(
        req,
        `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`,
      );
    state = {
      n: ctx.instance,
      e: entity,
      s: q.get('$select'),
      f: q.get('$filter'),
      c: top,
      o: 0,
      m: queryMode(req),
      ...(q.has('$orderby') ? { r: q.get('$orderby')! } : {}),
    };
  }
  const sel = resolveSelect(entity, state.s, false);
  if (!sel.ok) return graphError(req, sel.status, sel.code, sel.message);
  // A nextLink keeps the first request's query, advanced or not.
  const mode = state.m ?? queryMode(req);
  const filter = compileFilter(req, entity, state.f, mode);
  if (!filter.ok) return filter.response;
  const test = filterTest(filter.node);
  let order: Order | undefined;
  if (state.r !== undefined) {
    const parsed = parseOrder(req, entity, state.r, state.f !== null, mode);
    if ('status' in parsed) return parsed;
    order = parsed;
  }
  const es = ctx.store.entityStore(entity);
  const slots = es.slots;
  const value: Record<string, unknown>[] = [];
  let o = state.o;
  let more: boolean;
  let count: number | undefined;
  if (order) {
    // Sorting needs every match: fine for the queries that sort, which are not the bulk-read path.
    const matches: StoredObject[] = [];
    for (const obj of slots) if (obj && !obj.deletedAt && test(obj)) matches.push(obj);
    matches.sort(order.compare);
    for (const obj of matches.slice(o, o + state.c))
      value.push(renderObject(obj, sel.selection.props, { nulls: true }));
    o += state.c;
    more = o < matches.length;
    count = matches.length;
  } else {
    for (; o < slots.length && value.length < state.c; o++) {
      const obj = slots[o];
      if (obj && !obj.deletedAt && test(obj))
        value.push(renderObject(obj, sel.selection.props, { nulls: true }));
    }
    while (o < slots.length && !(slots[o] && !slots[o]!.deletedAt && test(slots[o]!))) o++;
    more = o < slots.length;
  }
  const body: Record<string, unknown> = { '@odata.context': contextUrl(collectionUrl, state.s) };
  if (skip === null && q.get('$count') === 'true') {
    if (count === undefined)
      if (filter.node === null) count = es.liveCount;
      else {
        count = 0;
        for (const obj of slots) if (obj && !obj.deletedAt && test(obj)) count++;
      }
    body['@odata.count'] = count;
  }
  if (more) body['@odata.nextLink'] = `${collectionUrl}?$skiptoken=${ctx.codec.encode({ ...state, o })}`;
  body.value = value;
  return { status: 200, body };
}

interface Order {
  compare: (a: StoredObject, b: StoredObject) => number;
}

/** Properties each entity sorts on by default (the docs' "Supports $orderby" notes). */
const ORDERABLE: Record<EntityName, string[]> = {
  user: ['displayName', 'userPrincipalName'],
  group: ['displayName'],
  servicePrincipal: ['displayName'],
  directoryRole: [],
  orgContact: ['displayName'],
  device: ['displayName'],
};

/**
 * `$orderby=prop [asc|desc]`. Sorting on other properties, or together with `$filter`, is an advanced
 * query: it needs `ConsistencyLevel: eventual` and `$count=true` (aad-advanced-queries.md).
 */
function parseOrder(
  req: EmuRequest,
  entity: EntityName,
  text: string,
  filtered: boolean,
  { advanced }: QueryMode,
): Order | EmuResponse {
  const m = /^\s*([A-Za-z0-9_]+)(?:\s+(asc|desc))?\s*$/i.exec(text);
  const property = m ? entityInfo(entity).properties.get(m[1]!) : undefined;
  if (
    !m ||
    !property ||
    property.kind !== 'structural' ||
    property.isCollection ||
    (!ORDERABLE[entity].includes(property.name) && !advanced) ||
    (filtered && !advanced)
  )
    return errors.unsupportedQuery(req, 'Sorting not supported for current query.');
  const prop = property.name;
  const sign = m[2]?.toLowerCase() === 'desc' ? -1 : 1;
  const key = (o: StoredObject) => {
    const v = o.data[prop];
    return typeof v === 'string' ? v.toLowerCase() : v === undefined || v === null ? '' : JSON.stringify(v);
  };
  return {
    compare: (a, b) => {
      const x = key(a);
      const y = key(b);
      return x < y ? -sign : x > y ? sign : a.id < b.id ? -1 : 1;
    },
  };
}

/** `GET /{collection}/$count` (needs `ConsistencyLevel: eventual`), as text/plain. */
export function handleCount(req: EmuRequest, entity: EntityName, ctx: CollectionContext): EmuResponse {
  if (!eventual(req)) return errors.badRequest(req, 'Count is not currently supported.');
  // The $count segment is itself the count an advanced query asks for.
  const filter = compileFilter(req, entity, req.url.searchParams.get('$filter'), {
    eventual: true,
    advanced: true,
  });
  if (!filter.ok) return filter.response;
  const test = filterTest(filter.node);
  let count = 0;
  for (const obj of ctx.store.entityStore(entity).live()) if (test(obj)) count++;
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: String(count) };
}

/** Finds an object by id, or a user by userPrincipalName. */
export function lookup(store: DirectoryStore, entity: EntityName, key: string): StoredObject | undefined {
  // `key` comes decoded from the path: a userPrincipalName's `#EXT#` arrives as `%23EXT%23`.
  const found = GUID.test(key)
    ? store.get(key)
    : entity === 'user'
      ? store.userByPrincipalName(key)
      : undefined;
  return found && !found.deletedAt && found.entity === entity ? found : undefined;
}

/** `GET /{collection}/{id}`: the only read that returns properties stored outside the main store. */
export function handleGet(
  req: EmuRequest,
  entity: EntityName,
  key: string,
  collectionUrl: string,
  ctx: CollectionContext,
): EmuResponse {
  const obj = lookup(ctx.store, entity, key);
  if (!obj) return errors.notFound(req, key);
  const select = req.url.searchParams.get('$select');
  let props: string[];
  if (select) {
    const known = entityInfo(entity).properties;
    const lower = new Map([...known.keys()].map((k) => [k.toLowerCase(), k]));
    props = [];
    for (const raw of select.split(',')) {
      const name =
        lower.get(raw.trim().toLowerCase()) ?? (raw.trim().startsWith('extension_') ? raw.trim() : undefined);
      if (!name)
        return errors.badRequest(
          req,
          `Could not find a property named '${raw.trim()}' on type 'microsoft.graph.${entity}'.`,
        );
      props.push(name);
    }
  } else {
    const r = resolveSelect(entity, null, false);
    props = r.ok ? r.selection.props : ['id'];
  }
  return {
    status: 200,
    body: {
      '@odata.context': `${contextUrl(collectionUrl, select)}/$entity`,
      ...renderObject(obj, props, { nulls: true }),
    },
  };
}

/** `GET /{collection}/{id}/{nav}/$count` (and `/{nav}/microsoft.graph.user/$count`), as text/plain. */
export function handleNavigationCount(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  ctx: CollectionContext,
  cast?: EntityName,
): EmuResponse {
  if (!eventual(req)) return errors.badRequest(req, 'Count is not currently supported.');
  let count = 0;
  for (const o of ctx.store.linked(owner, nav)) if (!cast || o.entity === cast) count++;
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: String(count) };
}

/** `GET /{collection}/{id}/{nav}`: members or owners, paged; `/{nav}/microsoft.graph.user` only users. */
export function handleNavigationList(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  collectionUrl: string,
  ctx: CollectionContext,
  cast?: EntityName,
): EmuResponse {
  const q = req.url.searchParams;
  let offset = 0;
  let top = q.has('$top') ? Number(q.get('$top')) : 100;
  const skip = q.get('$skiptoken');
  if (skip !== null) {
    const s = ctx.codec.decode<ListState>(skip);
    if (!s || s.owner !== owner.id || s.nav !== nav)
      return errors.badRequest(req, 'The skip token is malformed or expired.');
    offset = s.o;
    top = s.c;
  }
  if (!Number.isInteger(top) || top < 1 || top > 999)
    return errors.badRequest(
      req,
      `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`,
    );
  const set = owner.links?.[nav];
  const shown = (id: string | null): StoredObject | undefined => {
    const target = id === null ? undefined : ctx.store.get(id);
    return target && (!cast || target.entity === cast) ? target : undefined;
  };
  const value: Record<string, unknown>[] = [];
  let o = offset;
  for (; set && o < set.length && value.length < top; o++) {
    const target = shown(set.at(o));
    if (!target) continue;
    const r = resolveSelect(target.entity, null, false);
    value.push(renderObject(target, r.ok ? r.selection.props : ['id'], { nulls: true, odataType: true }));
  }
  // No nextLink to a page that would be empty.
  while (set && o < set.length && !shown(set.at(o))) o++;
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const body: Record<string, unknown> = {
    '@odata.context': `${root}/$metadata#${cast ? entityInfo(cast).collection : 'directoryObjects'}`,
  };
  if (set && o < set.length) {
    const state: ListState = {
      n: ctx.instance,
      e: owner.entity,
      s: null,
      f: null,
      c: top,
      o,
      owner: owner.id,
      nav,
    };
    const path = cast ? `${nav}/microsoft.graph.${cast}` : nav;
    body['@odata.nextLink'] = `${collectionUrl}/${owner.id}/${path}?$skiptoken=${ctx.codec.encode(state)}`;
  }
  body.value = value;
  return { status: 200, body };
}

function contextUrl(collectionUrl: string, select: string | null): string {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const name = collectionUrl.slice(collectionUrl.lastIndexOf('/') + 1);
  return select ? `${root}/$metadata#${name}(${select})` : `${root}/$metadata#${name}`;
}
