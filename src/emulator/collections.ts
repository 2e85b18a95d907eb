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
  o: number; // slot index, or link offset for navigation lists
  owner?: string;
  nav?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** True when the request carries Graph's advanced-query switch. */
function eventual(req: EmuRequest): boolean {
  return String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
}

/** Parses `$filter` and checks it against what the entity supports. */
function compileFilter(
  req: EmuRequest,
  entity: EntityName,
  text: string | null,
): { ok: true; node: FilterNode | null } | { ok: false; response: EmuResponse } {
  if (text === null) return { ok: true, node: null };
  try {
    const node = parseFilter(text);
    const shape = filterShape(node);
    const advanced = eventual(req);
    for (const prop of shape.props)
      if (!FILTERABLE[entity].includes(prop) && !(advanced && entityInfo(entity).properties.has(prop)))
        return {
          ok: false,
          response: errors.unsupportedQuery(
            req,
            `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${entity[0]!.toUpperCase()}${entity.slice(1)}'.`,
          ),
        };
    if (shape.advanced && !(advanced && req.url.searchParams.get('$count') === 'true'))
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
    if (q.has('$orderby') || q.has('$search')) {
      if (!eventual(req))
        return errors.unsupportedQuery(
          req,
          'Request with $search or $orderby requires ConsistencyLevel: eventual.',
        );
      if (q.has('$search')) return errors.unsupportedQuery(req);
    }
    if (q.has('$count') && !eventual(req))
      return errors.badRequest(req, '$count is not currently supported.');
    const top = q.has('$top') ? Number(q.get('$top')) : 100;
    if (!Number.isInteger(top) || top < 1 || top > 999)
      return errors.badRequest(
        req,
        `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`,
      );
    state = { n: ctx.instance, e: entity, s: q.get('$select'), f: q.get('$filter'), c: top, o: 0 };
  }
  const sel = resolveSelect(entity, state.s, false);
  if (!sel.ok) return graphError(req, sel.status, sel.code, sel.message);
  const filter = compileFilter(req, entity, state.f);
  if (!filter.ok) return filter.response;
  const test = filterTest(filter.node);
  const slots = ctx.store.entityStore(entity).slots;
  const value: Record<string, unknown>[] = [];
  let o = state.o;
  for (; o < slots.length && value.length < state.c; o++) {
    const obj = slots[o];
    if (obj && !obj.deletedAt && test(obj))
      value.push(renderObject(obj, sel.selection.props, { nulls: true }));
  }
  while (o < slots.length && !(slots[o] && !slots[o]!.deletedAt && test(slots[o]!))) o++;
  const body: Record<string, unknown> = { '@odata.context': contextUrl(collectionUrl, state.s) };
  if (skip === null && q.get('$count') === 'true') {
    let count = 0;
    for (const obj of slots) if (obj && !obj.deletedAt && test(obj)) count++;
    body['@odata.count'] = count;
  }
  if (o < slots.length)
    body['@odata.nextLink'] = `${collectionUrl}?$skiptoken=${ctx.codec.encode({ ...state, o })}`;
  body.value = value;
  return { status: 200, body };
}

/** `GET /{collection}/$count` (needs `ConsistencyLevel: eventual`), as text/plain. */
export function handleCount(req: EmuRequest, entity: EntityName, ctx: CollectionContext): EmuResponse {
  if (!eventual(req)) return errors.badRequest(req, 'Count is not currently supported.');
  const filter = compileFilter(req, entity, req.url.searchParams.get('$filter'));
  if (!filter.ok) return filter.response;
  const test = filterTest(filter.node);
  let count = 0;
  for (const obj of ctx.store.entityStore(entity).live()) if (test(obj)) count++;
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: String(count) };
}

/** Finds an object by id, or a user by userPrincipalName. */
export function lookup(store: DirectoryStore, entity: EntityName, key: string): StoredObject | undefined {
  const decoded = decodeURIComponent(key);
  const found = GUID.test(decoded)
    ? store.get(decoded)
    : entity === 'user'
      ? store.userByPrincipalName(decoded)
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
  if (!obj) return errors.notFound(req, decodeURIComponent(key));
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
    if (!props.includes('id')) props.push('id');
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

/** `GET /{collection}/{id}/{nav}`: members or owners, paged. */
export function handleNavigationList(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  collectionUrl: string,
  ctx: CollectionContext,
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
  const value: Record<string, unknown>[] = [];
  let o = offset;
  for (; set && o < set.length && value.length < top; o++) {
    const id = set.at(o);
    const target = id === null ? undefined : ctx.store.get(id);
    if (!target) continue;
    const r = resolveSelect(target.entity, null, false);
    value.push(renderObject(target, r.ok ? r.selection.props : ['id'], { nulls: true, odataType: true }));
  }
  const body: Record<string, unknown> = {
    '@odata.context': `${collectionUrl.replace(/\/[^/]+$/, '')}/$metadata#directoryObjects`,
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
    body['@odata.nextLink'] = `${collectionUrl}/${owner.id}/${nav}?$skiptoken=${ctx.codec.encode(state)}`;
  }
  body.value = value;
  return { status: 200, body };
}

function contextUrl(collectionUrl: string, select: string | null): string {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const name = collectionUrl.slice(collectionUrl.lastIndexOf('/') + 1);
  return select ? `${root}/$metadata#${name}(${select})` : `${root}/$metadata#${name}`;
}
