import { entityFromCollection, entityFromOdataType, type EntityName } from '../graph/schema.js';
import {
  handleCount,
  handleGet,
  handleList,
  handleNavigationCount,
  handleNavigationList,
  lookup,
  type CollectionContext,
} from './collections.js';
import { handleDelta, type DeltaContext } from './delta.js';
import { errors } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { handleAddRef, handleDeletedItems, handleRemoveRef, linkNavigations } from './links.js';
import { renderObject, resolveSelect } from './render.js';
import { handleCreate, handleDelete, handleUpdate, type WriteContext } from './writes.js';

export type GraphContext = DeltaContext & CollectionContext & WriteContext;

const DIRECTORY_READ = ['Directory.Read.All', 'Directory.ReadWrite.All'];

/** Application permissions that allow reading each entity (graph-protocol.md §9.2). */
const READ: Record<EntityName, string[]> = {
  user: ['User.Read.All', 'User.ReadWrite.All', ...DIRECTORY_READ],
  group: [
    'GroupMember.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.Read.All',
    'Group.ReadWrite.All',
    ...DIRECTORY_READ,
  ],
  servicePrincipal: ['Application.Read.All', 'Application.ReadWrite.All', ...DIRECTORY_READ],
  directoryRole: ['RoleManagement.Read.Directory', 'RoleManagement.ReadWrite.Directory', ...DIRECTORY_READ],
  orgContact: ['OrgContact.Read.All', ...DIRECTORY_READ],
  device: ['Device.Read.All', 'Device.ReadWrite.All', ...DIRECTORY_READ],
};

/** Create and update. Directory.ReadWrite.All does not allow deletes (permissions reference). */
const WRITE: Record<EntityName, string[]> = {
  user: ['User.ReadWrite.All', 'Directory.ReadWrite.All'],
  group: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  servicePrincipal: ['Application.ReadWrite.All', 'Directory.ReadWrite.All'],
  directoryRole: ['RoleManagement.ReadWrite.Directory'],
  orgContact: ['Directory.ReadWrite.All'],
  device: ['Device.ReadWrite.All', 'Directory.ReadWrite.All'],
};
const CREATE_EXTRA: Partial<Record<EntityName, string[]>> = {
  user: ['User.Create'],
  group: ['Group.Create'],
};
const DELETE: Record<EntityName, string[]> = {
  user: ['User.ReadWrite.All'],
  group: ['Group.ReadWrite.All'],
  servicePrincipal: ['Application.ReadWrite.All'],
  directoryRole: [],
  orgContact: [],
  device: ['Device.ReadWrite.All'],
};
function linkWrite(entity: EntityName, nav: string): string[] {
  if (entity === 'directoryRole') return ['RoleManagement.ReadWrite.Directory'];
  return nav === 'members'
    ? ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All']
    : ['Group.ReadWrite.All', 'Directory.ReadWrite.All'];
}

/**
 * Answers one Graph request (already authenticated) under `/v1.0` or `/beta`. `origin` is the
 * emulator's https origin, used for absolute nextLink/deltaLink URLs as Graph builds them.
 */
export function routeGraph(req: EmuRequest, roles: string[], origin: string, ctx: GraphContext): EmuResponse {
  let segments: string[];
  try {
    segments = req.url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  } catch {
    return errors.badRoute(req);
  }
  const version = segments.shift()!;
  const root = `${origin}/${version}`;
  const allow = (needed: string[]) => needed.some((r) => roles.includes(r));
  const [first, second, third, fourth, fifth] = segments;
  if (first === undefined) return errors.badRoute(req);

  if (first === 'directory' && second === 'deletedItems') {
    const { response, entity } = handleDeletedItems(req, segments.slice(2), root, ctx);
    if (entity) {
      const needed = req.method === 'GET' ? READ[entity] : DELETE[entity];
      if (!allow(needed)) return errors.forbidden(req);
    }
    return response;
  }
  if (first === 'directoryObjects' && second && !third && req.method === 'GET') {
    const o = ctx.store.get(second);
    if (!o) return errors.notFound(req, second);
    if (!allow(READ[o.entity])) return errors.forbidden(req);
    const sel = resolveSelect(o.entity, null, false);
    return {
      status: 200,
      body: {
        '@odata.context': `${root}/$metadata#directoryObjects/$entity`,
        ...renderObject(o, sel.ok ? sel.selection.props : ['id'], { nulls: true, odataType: true }),
      },
    };
  }

  const entity = entityFromCollection(first);
  if (!entity) return errors.badRoute(req);
  const collectionUrl = `${root}/${first}`;
  const m = req.method;

  if (second === undefined) {
    if (m === 'GET')
      return allow(READ[entity]) ? handleList(req, entity, collectionUrl, ctx) : errors.forbidden(req);
    if (m === 'POST')
      return allow([...WRITE[entity], ...(CREATE_EXTRA[entity] ?? [])])
        ? handleCreate(req, entity, collectionUrl, ctx)
        : errors.forbidden(req);
    return errors.methodNotAllowed(req);
  }
  if ((second === 'delta' || second === 'microsoft.graph.delta') && third === undefined) {
    if (m !== 'GET') return errors.methodNotAllowed(req);
    return allow(READ[entity]) ? handleDelta(req, entity, collectionUrl, ctx) : errors.forbidden(req);
  }
  if (second === '$count' && third === undefined) {
    if (m !== 'GET') return errors.methodNotAllowed(req);
    return allow(READ[entity]) ? handleCount(req, entity, ctx) : errors.forbidden(req);
  }

  // directoryRoles/roleTemplateId={id} is an alternate key (directoryrole-list-members.md).
  let key = second;
  const alternate = /^roleTemplateId=(.+)$/.exec(second);
  if (entity === 'directoryRole' && alternate) {
    const templateId = alternate[1]!.replace(/^'|'$/g, '').toLowerCase();
    const role = [...ctx.store.entityStore('directoryRole').live()].find(
      (r) => String(r.data.roleTemplateId).toLowerCase() === templateId,
    );
    if (!role) return errors.notFound(req, templateId);
    key = role.id;
  }

  if (third === undefined) {
    if (m === 'GET')
      return allow(READ[entity]) ? handleGet(req, entity, key, collectionUrl, ctx) : errors.forbidden(req);
    if (m === 'PATCH')
      return allow(WRITE[entity]) ? handleUpdate(req, entity, key, ctx) : errors.forbidden(req);
    if (m === 'DELETE')
      return allow(DELETE[entity]) ? handleDelete(req, entity, key, ctx) : errors.forbidden(req);
    return errors.methodNotAllowed(req);
  }

  if (!linkNavigations(entity).includes(third)) return errors.badRoute(req);
  const owner = lookup(ctx.store, entity, key);
  if (!owner) return errors.notFound(req, key);
  // members, members/$count, members/microsoft.graph.user, members/microsoft.graph.user/$count
  const cast = fourth === undefined ? undefined : entityFromOdataType(fourth);
  if (fourth === undefined || fourth === '$count' || cast) {
    const counting = fourth === '$count' || (cast !== undefined && fifth === '$count');
    if ((fourth === '$count' && fifth !== undefined) || (cast && fifth !== undefined && fifth !== '$count'))
      return errors.badRoute(req);
    if (m !== 'GET') return errors.methodNotAllowed(req);
    if (!allow(READ[entity])) return errors.forbidden(req);
    return counting
      ? handleNavigationCount(req, owner, third, ctx, cast)
      : handleNavigationList(req, owner, third, collectionUrl, ctx, cast);
  }
  if (fourth === '$ref' && fifth === undefined) {
    if (m !== 'POST') return errors.methodNotAllowed(req);
    return allow(linkWrite(entity, third))
      ? handleAddRef(req, owner, third, ctx.store)
      : errors.forbidden(req);
  }
  if (fifth === '$ref' && segments.length === 5) {
    if (m !== 'DELETE') return errors.methodNotAllowed(req);
    return allow(linkWrite(entity, third))
      ? handleRemoveRef(req, owner, third, fourth, ctx.store)
      : errors.forbidden(req);
  }
  if (fifth === undefined && m === 'DELETE') {
    // Without /$ref Graph deletes the linked object itself, if the app may (group-delete-members.md).
    const target = ctx.store.get(fourth);
    if (!target || !owner.links?.[third]?.has(target.id)) return errors.notFound(req, fourth);
    if (!allow(DELETE[target.entity])) return errors.forbidden(req);
    return handleDelete(req, target.entity, target.id, ctx);
  }
  return errors.badRoute(req);
}
