import { entityInfo, isEntityName, type EntityName } from '../graph/schema.js';
import type { CollectionContext } from './collections.js';
import { errors, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { memberOf } from './member-of.js';
import { countObjects, listObjects, type ListSpec } from './object-list.js';
import { GUID } from './paths.js';
import { renderObject, resolveSelect } from './render.js';
import type { StoredObject } from './store.js';

/** At most 1,000 ids per getByIds call (directoryobject-getbyids.md). */
const MAX_IDS = 1000;

/** An object with its type, as directoryObject collections show it. */
export function renderDirectoryObject(
  o: StoredObject,
  select: string | null = null,
): Record<string, unknown> {
  const r = resolveSelect(o.entity, select, false);
  return renderObject(o, r.ok ? r.selection.props : ['id'], { nulls: true, odataType: true });
}

/**
 * `POST /directoryObjects/getByIds` with `{ids, types}` (directoryobject-getbyids.md): the objects
 * found, of the types asked for (any type without `types`), each with `@odata.type`; ids that name
 * nothing are left out. `readable` says which types the app may read.
 */
export function handleGetByIds(
  req: EmuRequest,
  root: string,
  ctx: CollectionContext,
  readable: (entity: EntityName) => boolean,
): EmuResponse {
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const { ids, types } = parsed.body as { ids?: unknown; types?: unknown };
  if (!Array.isArray(ids) || ids.length === 0 || !ids.every((id) => typeof id === 'string'))
    return errors.badRequest(req, "Invalid value specified for property 'ids' of resource 'getByIds'.");
  if (ids.length > MAX_IDS)
    return errors.badRequest(
      req,
      `The request exceeds the maximum of ${MAX_IDS} ids that can be requested at once.`,
    );
  let wanted: Set<EntityName> | undefined;
  if (types !== undefined) {
    if (!Array.isArray(types)) return errors.badRequest(req, "Invalid value specified for property 'types'.");
    wanted = new Set();
    for (const t of types) {
      const name = String(t).replace(/^(#?microsoft\.graph\.)/i, '');
      const entity = ['user', 'group', 'servicePrincipal', 'directoryRole', 'orgContact', 'device'].find(
        (e) => e.toLowerCase() === name.toLowerCase(),
      );
      if (!entity || !isEntityName(entity))
        return errors.badRequest(req, `Invalid type '${String(t)}' in types.`);
      wanted.add(entity);
    }
  }
  for (const id of ids)
    if (!GUID.test(id)) return errors.badRequest(req, `Invalid object identifier '${id}'.`);
  const value: Record<string, unknown>[] = [];
  for (const id of new Set(ids.map((i) => i.toLowerCase()))) {
    const o = ctx.store.get(id);
    if (o && (!wanted || wanted.has(o.entity)) && readable(o.entity)) value.push(renderDirectoryObject(o));
  }
  return { status: 200, body: { '@odata.context': `${root}/$metadata#directoryObjects`, value } };
}

/** `GET /directoryObjects/{id}`: any object, with its type. */
export function handleDirectoryObject(req: EmuRequest, o: StoredObject, root: string): EmuResponse {
  return {
    status: 200,
    body: {
      '@odata.context': `${root}/$metadata#directoryObjects/$entity`,
      ...renderDirectoryObject(o, req.url.searchParams.get('$select')),
    },
  };
}

/** `GET /{collection}/{id}/memberOf[/microsoft.graph.group][/$count]` (user-list-memberof.md). */
export function handleMemberOf(
  req: EmuRequest,
  member: StoredObject,
  collectionUrl: string,
  ctx: CollectionContext,
  counting: boolean,
  cast?: EntityName,
): EmuResponse {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  const spec: ListSpec = {
    key: `${member.id}/memberOf/${cast ?? ''}`,
    entities: cast ? [cast] : ['group', 'directoryRole'],
    source: function* (from) {
      for (const entry of memberOf(ctx.store, member, from))
        if (!cast || entry[1].entity === cast) yield entry;
    },
    context: `${root}/$metadata#${cast ? entityInfo(cast).collection : 'directoryObjects'}`,
    url: `${collectionUrl}/${member.id}/memberOf${cast ? `/microsoft.graph.${cast}` : ''}`,
    odataType: true,
    paged: true,
  };
  return counting ? countObjects(req, spec) : listObjects(req, spec, ctx);
}
