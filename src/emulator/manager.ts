import { entityInfo, type EntityName } from '../graph/schema.js';
import type { CollectionContext } from './collections.js';
import { errors, graphError, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { countObjects, listObjects, type ListSpec } from './object-list.js';
import { GUID } from './paths.js';
import { renderObject, resolveSelect } from './render.js';
import type { DirectoryStore, StoredObject } from './store.js';

/**
 * A user's manager and direct reports (user-list-manager.md, user-post-manager.md,
 * user-delete-manager.md, user-list-directreports.md). The manager is a single-valued link of the
 * user: it shows in `users/delta` as `manager@delta` when `manager` is selected.
 */

function noManager(req: EmuRequest): EmuResponse {
  return graphError(
    req,
    404,
    'Request_ResourceNotFound',
    "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
  );
}

/** Microsoft.DirectoryServices.User: the type name Graph puts in `@odata.id` references. */
function directoryServicesName(entity: EntityName): string {
  return `Microsoft.DirectoryServices.${entity[0]!.toUpperCase()}${entity.slice(1)}`;
}

/** `GET|PUT|DELETE /users/{id}/manager[/$ref]`. */
export function handleManager(
  req: EmuRequest,
  user: StoredObject,
  ref: boolean,
  root: string,
  store: DirectoryStore,
): EmuResponse {
  const current = [...store.linked(user, 'manager')][0];
  if (req.method === 'GET') {
    if (!current) return noManager(req);
    if (ref)
      return {
        status: 200,
        body: {
          '@odata.context': `${root}/$metadata#directoryObjects/$ref`,
          '@odata.id': `${root}/directoryObjects/${current.id}/${directoryServicesName(current.entity)}`,
        },
      };
    const select = req.url.searchParams.get('$select');
    const r = resolveSelect(current.entity, select, false);
    if (!r.ok) return graphError(req, r.status, r.code, r.message);
    return {
      status: 200,
      body: {
        '@odata.context': `${root}/$metadata#directoryObjects/$entity`,
        ...renderObject(current, r.selection.props, { nulls: true, odataType: true }),
      },
    };
  }
  if (!ref) return errors.methodNotAllowed(req);
  if (req.method === 'DELETE') {
    if (!current) return noManager(req);
    store.removeLink(user.id, 'manager', current.id);
    return { status: 204 };
  }
  if (req.method !== 'PUT') return errors.methodNotAllowed(req);
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const ref_ = parsed.body['@odata.id'];
  const id = typeof ref_ === 'string' ? /\/([0-9a-fA-F-]{36})\/?$/.exec(ref_)?.[1] : undefined;
  if (!id || !GUID.test(id))
    return errors.badRequest(req, `Invalid object identifier '${typeof ref_ === 'string' ? ref_ : ''}'.`);
  const manager = store.get(id);
  if (!manager) return errors.notFound(req, id);
  // A manager is a user or an organizational contact (user-post-manager.md); not oneself.
  if ((manager.entity !== 'user' && manager.entity !== 'orgContact') || manager.id === user.id)
    return errors.badRequest(req, `Invalid value specified for property 'manager' of resource 'User'.`);
  store.addLink(user.id, 'manager', manager.id);
  return { status: 204 };
}

/** The list behind `/users/{id}/directReports` (or `/directReports/microsoft.graph.user`). */
function reportsSpec(
  user: StoredObject,
  collectionUrl: string,
  ctx: CollectionContext,
  cast?: EntityName,
): ListSpec {
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  return {
    key: `${user.id}/directReports/${cast ?? ''}`,
    entities: cast ? [cast] : ['user', 'orgContact'],
    // Reports in user-slot order: positions stay put while reports come and go.
    source: function* (from) {
      const reports = ctx.store
        .reportsOf(user.id)
        .map((id) => ctx.store.get(id))
        .filter((o): o is StoredObject => o !== undefined && (!cast || o.entity === cast))
        .sort((a, b) => a.slot - b.slot);
      for (const o of reports) if (o.slot >= from) yield [o.slot, o];
    },
    context: `${root}/$metadata#${cast ? entityInfo(cast).collection : 'directoryObjects'}`,
    url: `${collectionUrl}/${user.id}/directReports${cast ? `/microsoft.graph.${cast}` : ''}`,
    odataType: true,
    paged: true,
  };
}

/** `GET /users/{id}/directReports[/microsoft.graph.user][/$count]`. */
export function handleDirectReports(
  req: EmuRequest,
  user: StoredObject,
  collectionUrl: string,
  ctx: CollectionContext,
  counting: boolean,
  cast?: EntityName,
): EmuResponse {
  const spec = reportsSpec(user, collectionUrl, ctx, cast);
  return counting ? countObjects(req, spec) : listObjects(req, spec, ctx);
}
