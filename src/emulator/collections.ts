import { entityInfo, type EntityName } from '../graph/schema.js';
import { errors } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { expandInto, parseExpand } from './expand.js';
import { countObjects, listObjects, type ListContext, type ListSpec } from './object-list.js';
import { GUID } from './paths.js';
import { indexedPositions } from './prefix-index.js';
import { renderObject, resolveSelect } from './render.js';
import type { DirectoryStore, StoredObject } from './store.js';

export interface CollectionContext extends ListContext {
  store: DirectoryStore;
}

/** Live objects of an entity from a slot on (slots never move: list cursors are slot positions). */
function slotSource(store: DirectoryStore, entity: EntityName) {
  return function* (from: number): IterableIterator<[number, StoredObject]> {
    const slots = store.entityStore(entity).slots;
    for (let i = from; i < slots.length; i++) {
      const o = slots[i];
      if (o && !o.deletedAt) yield [i, o];
    }
  };
}

/** Live linked objects of `owner` through `nav` from a link offset on, of one type when cast. */
export function linkSource(store: DirectoryStore, owner: StoredObject, nav: string, cast?: EntityName) {
  return function* (from: number): IterableIterator<[number, StoredObject]> {
    const set = owner.links?.[nav];
    if (!set) return;
    for (let m = from; m < set.length; m++) {
      const id = set.at(m);
      const target = id === null ? undefined : store.get(id);
      if (target && (!cast || target.entity === cast)) yield [m, target];
    }
  };
}

/** `GET /{collection}` with `$select`, `$filter`, `$search`, `$orderby`, `$top`, `$count`, `$expand`. */
export function handleList(
  req: EmuRequest,
  entity: EntityName,
  collectionUrl: string,
  ctx: CollectionContext,
): EmuResponse {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const expand = parseExpand(req, entity, req.url.searchParams.get('$expand'));
  if (!Array.isArray(expand)) return expand;
  const spec: ListSpec = {
    key: entity,
    entities: [entity],
    source: slotSource(ctx.store, entity),
    context: `${root}/$metadata#${entityInfo(entity).collection}`,
    url: collectionUrl,
    odataType: false,
    // directoryrole-list.md takes no query options: Graph answers every role on one page.
    paged: entity !== 'directoryRole',
    size: () => ctx.store.count(entity),
    indexed: (filter) => indexedPositions(ctx.store, entity, filter),
  };
  const answer = listObjects(req, spec, ctx);
  if (expand.length && answer.status === 200) {
    const body = answer.body as { value: Record<string, unknown>[] };
    for (const item of body.value) expandInto(item, ctx.store.get(String(item.id))!, expand, ctx.store);
  }
  return answer;
}

/** `GET /{collection}/$count` (needs `ConsistencyLevel: eventual`), as text/plain. */
export function handleCount(req: EmuRequest, entity: EntityName, ctx: CollectionContext): EmuResponse {
  return countObjects(req, {
    entities: [entity],
    source: slotSource(ctx.store, entity),
    indexed: (filter) => indexedPositions(ctx.store, entity, filter),
  });
}

/**
 * The answer to a malformed object id in a path, if it is one: Graph parses ids before it looks
 * them up, and a string that is no GUID is a 400 (users also take a userPrincipalName).
 */
export function checkKey(
  req: EmuRequest,
  entity: EntityName | undefined,
  key: string,
): EmuResponse | undefined {
  if (GUID.test(key) || (entity === 'user' && key.includes('@'))) return undefined;
  if (entity === 'user') return errors.notFound(req, key);
  return errors.badRequest(req, `Invalid object identifier '${key}'.`);
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
  const expand = parseExpand(req, entity, req.url.searchParams.get('$expand'));
  if (!Array.isArray(expand)) return expand;
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
      // A navigation in $select is Graph's way to ask for nothing of it: only $expand returns it.
      if (known.get(name)?.kind !== 'navigation') props.push(name);
    }
  } else {
    const r = resolveSelect(entity, null, false);
    props = r.ok ? r.selection.props : ['id'];
  }
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const name = entityInfo(entity).collection;
  const body: Record<string, unknown> = {
    '@odata.context': `${root}/$metadata#${name}${select ? `(${select})` : ''}/$entity`,
    ...renderObject(obj, props, { nulls: true }),
  };
  return { status: 200, body: expandInto(body, obj, expand, ctx.store) };
}

/** The list behind `/{collection}/{id}/{nav}` (or `/{nav}/microsoft.graph.{type}`). */
export function navigationSpec(
  owner: StoredObject,
  nav: string,
  collectionUrl: string,
  ctx: CollectionContext,
  cast?: EntityName,
): ListSpec {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  return {
    key: `${owner.id}/${nav}/${cast ?? ''}`,
    entities: cast ? [cast] : ['user', 'group', 'servicePrincipal', 'orgContact', 'device'],
    source: linkSource(ctx.store, owner, nav, cast),
    context: `${root}/$metadata#${cast ? entityInfo(cast).collection : 'directoryObjects'}`,
    url: `${collectionUrl}/${owner.id}/${cast ? `${nav}/microsoft.graph.${cast}` : nav}`,
    odataType: true,
    // Directory roles hold few members and Graph does not page them (directoryrole-list-members.md).
    paged: owner.entity !== 'directoryRole',
  };
}

/** `GET /{collection}/{id}/{nav}`: members or owners, with the query options of any directory list. */
export function handleNavigationList(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  collectionUrl: string,
  ctx: CollectionContext,
  cast?: EntityName,
): EmuResponse {
  if (req.url.searchParams.has('$expand'))
    return errors.unsupportedQuery(req, '$expand is not supported on this relationship.');
  return listObjects(req, navigationSpec(owner, nav, collectionUrl, ctx, cast), ctx);
}

/** `GET /{collection}/{id}/{nav}/$count` (and `/{nav}/microsoft.graph.user/$count`), as text/plain. */
export function handleNavigationCount(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  ctx: CollectionContext,
  cast?: EntityName,
): EmuResponse {
  return countObjects(req, {
    entities: cast ? [cast] : ['user', 'group', 'servicePrincipal', 'orgContact', 'device'],
    source: linkSource(ctx.store, owner, nav, cast),
  });
}
