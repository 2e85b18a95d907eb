import type { EntityName } from '../graph/schema.js';
import { errors, graphError, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { renderObject, resolveSelect } from './render.js';
import type { CollectionContext } from './collections.js';
import { GUID } from './paths.js';
import { StoreError, type DirectoryStore, type StoredObject } from './store.js';

/** Member types each owner accepts (group-post-members.md, group-post-owners.md). */
export function acceptsTarget(owner: StoredObject, nav: string, target: StoredObject): boolean {
  if (nav === 'owners') return target.entity === 'user' || target.entity === 'servicePrincipal';
  if (owner.entity === 'directoryRole') return ['user', 'group', 'servicePrincipal'].includes(target.entity);
  const unified = Array.isArray(owner.data.groupTypes) && owner.data.groupTypes.includes('Unified');
  if (unified) return target.entity === 'user';
  return (
    target.id !== owner.id &&
    ['user', 'group', 'servicePrincipal', 'device', 'orgContact'].includes(target.entity)
  );
}

/** `POST /{collection}/{id}/{nav}/$ref` with `{"@odata.id": ".../directoryObjects/{id}"}` → 204. */
export function handleAddRef(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  store: DirectoryStore,
): EmuResponse {
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const ref = parsed.body['@odata.id'];
  const id = typeof ref === 'string' ? /\/([0-9a-fA-F-]{36})\/?$/.exec(ref)?.[1] : undefined;
  if (!id)
    return errors.badRequest(
      req,
      `Invalid object identifier '${typeof ref === 'string' ? ref : JSON.stringify(ref ?? '')}'.`,
    );
  const target = store.get(id);
  if (!target) return errors.notFound(req, id);
  if (!acceptsTarget(owner, nav, target))
    return errors.badRequest(
      req,
      `An object of type '${target.entity}' cannot be added to '${nav}' of this ${owner.entity}.`,
    );
  if (!store.addLink(owner.id, nav, target.id))
    return errors.badRequest(
      req,
      `One or more added object references already exist for the following modified properties: '${nav}'.`,
    );
  return { status: 204 };
}

/** `DELETE /{collection}/{id}/{nav}/{targetId}/$ref` → 204, or 404 when there is no such link. */
export function handleRemoveRef(
  req: EmuRequest,
  owner: StoredObject,
  nav: string,
  targetId: string,
  store: DirectoryStore,
): EmuResponse {
  const set = owner.links?.[nav];
  if (!set?.has(targetId.toLowerCase())) return errors.notFound(req, targetId);
  if (nav === 'owners' && owner.entity === 'group' && set.size === 1)
    return errors.badRequest(
      req,
      'The group must have at least one owner, hence this owner cannot be removed.',
    );
  store.removeLink(owner.id, nav, targetId);
  return { status: 204 };
}

const DELETED_TYPES: Record<string, EntityName> = {
  'microsoft.graph.user': 'user',
  'microsoft.graph.group': 'group',
  'microsoft.graph.serviceprincipal': 'servicePrincipal',
};

/**
 * `directory/deletedItems`: list by type cast (mandatory), get, restore, permanent delete
 * (directory-deleteditems-*.md).
 */
export function handleDeletedItems(
  req: EmuRequest,
  segments: string[],
  graphRoot: string,
  ctx: CollectionContext,
): { response: EmuResponse; entity?: EntityName } {
  const { store } = ctx;
  const [first, action] = segments;
  if (first === undefined)
    return {
      response: errors.badRequest(
        req,
        'The requested resource requires a type cast segment, e.g. microsoft.graph.user.',
      ),
    };
  const cast = DELETED_TYPES[first.toLowerCase()];
  if (cast) {
    if (req.method !== 'GET') return { response: errors.methodNotAllowed(req) };
    return { entity: cast, response: listDeleted(req, cast, first, graphRoot, ctx) };
  }
  if (!GUID.test(first)) return { response: errors.badRequest(req, `Invalid object identifier '${first}'.`) };
  const object = store.get(first, { includeDeleted: true });
  if (!object?.deletedAt) return { response: errors.notFound(req, first) };
  const render = () => {
    const sel = resolveSelect(object.entity, null, false);
    return {
      '@odata.context': `${graphRoot}/$metadata#directoryObjects/$entity`,
      ...renderObject(object, sel.ok ? sel.selection.props : ['id'], { nulls: true, odataType: true }),
    };
  };
  if (action === undefined && req.method === 'GET')
    return { entity: object.entity, response: { status: 200, body: render() } };
  if (action === undefined && req.method === 'DELETE') {
    store.hardDelete(object.id);
    return { entity: object.entity, response: { status: 204 } };
  }
  if (action === 'restore' && req.method === 'POST') {
    if (object.entity === 'user') {
      const upn = String(object.data.userPrincipalName);
      const holder = store.userByPrincipalName(upn);
      if (holder && holder.id !== object.id)
        return {
          entity: object.entity,
          response: errors.conflict(req, 'userPrincipalName'),
        };
    }
    try {
      store.restore(object.id);
    } catch (e) {
      if (!(e instanceof StoreError)) throw e;
      return { entity: object.entity, response: errors.badRequest(req, e.message) };
    }
    return { entity: object.entity, response: { status: 200, body: render() } };
  }
  return { entity: object.entity, response: errors.methodNotAllowed(req) };
}

interface DeletedListState {
  n: string;
  e: EntityName;
  s: string | null;
  c: number;
  o: number;
}

/**
 * `GET /directory/deletedItems/microsoft.graph.{type}`: 100 per page, up to 999 with `$top`, with
 * `deletedDateTime` (directory-deleteditems-list.md).
 */
function listDeleted(
  req: EmuRequest,
  entity: EntityName,
  cast: string,
  graphRoot: string,
  ctx: CollectionContext,
): EmuResponse {
  const q = req.url.searchParams;
  let state: DeletedListState;
  const skip = q.get('$skiptoken');
  if (skip !== null) {
    const decoded = ctx.codec.decode<DeletedListState>(skip);
    if (!decoded || decoded.e !== entity || decoded.n !== ctx.instance)
      return errors.badRequest(req, 'The skip token is malformed or expired.');
    state = decoded;
  } else {
    const top = q.has('$top') ? Number(q.get('$top')) : 100;
    if (!Number.isInteger(top) || top < 1 || top > 999)
      return errors.badRequest(
        req,
        `Invalid page size specified: '${q.get('$top')}'. Must be between 1 and 999 inclusive.`,
      );
    state = { n: ctx.instance, e: entity, s: q.get('$select'), c: top, o: 0 };
  }
  const sel = resolveSelect(entity, state.s, false);
  if (!sel.ok) return graphError(req, sel.status, sel.code, sel.message);
  const props = state.s
    ? sel.selection.props
    : ['deletedDateTime', ...sel.selection.props.filter((p) => p !== 'deletedDateTime')];
  // Deleted items are few: walk the store's set of them rather than every object.
  const deleted: StoredObject[] = [];
  for (const id of ctx.store.softDeleted) {
    const o = ctx.store.get(id, { includeDeleted: true });
    if (o?.entity === entity) deleted.push(o);
  }
  const value = deleted.slice(state.o, state.o + state.c).map((o) => renderObject(o, props, { nulls: true }));
  const body: Record<string, unknown> = {
    '@odata.context': `${graphRoot}/$metadata#directory/deletedItems/${cast}${state.s ? `(${state.s})` : ''}`,
  };
  if (state.o + state.c < deleted.length)
    body['@odata.nextLink'] =
      `${graphRoot}/directory/deletedItems/${cast}?$skiptoken=${ctx.codec.encode({ ...state, o: state.o + state.c })}`;
  body.value = value;
  return { status: 200, body };
}
