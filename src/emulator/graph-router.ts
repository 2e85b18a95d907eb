import { entityFromCollection, type EntityName } from '../graph/schema.js';
import {
  checkKey,
  handleCount,
  handleGet,
  handleList,
  handleNavigationCount,
  handleNavigationList,
  lookup,
  type CollectionContext,
} from './collections.js';
import { handleDelta, type DeltaContext } from './delta.js';
import { handleDirectoryObject, handleGetByIds, handleMemberOf } from './directory-objects.js';
import { isRelationship } from './expand.js';
import { errors, graphError } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { handleAddRef, handleDeletedItems, handleRemoveRef } from './links.js';
import { handleInvitation } from './invitations.js';
import { handleAssignLicense, handleSubscribedSkus } from './licenses.js';
import { handleDirectReports, handleManager } from './manager.js';
import { castOf, normalizeSegment } from './paths.js';
import { storedLinks } from './store.js';
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
 * `[cast][/$count]` after a relationship: which type the list is cast to, and whether it is counted;
 * undefined for any other tail.
 */
function relationshipTail(tail: string[]): { cast?: EntityName; counting: boolean } | undefined {
  const [a, b] = tail;
  if (a === undefined) return { counting: false };
  if (a === '$count' && b === undefined) return { counting: true };
  const cast = castOf(a);
  if (!cast || (b !== undefined && (b !== '$count' || tail.length > 2))) return undefined;
  return { cast, counting: b === '$count' };
}

/** Types that can be members of groups and roles, and so have `memberOf`. */
const MEMBER_TYPES: EntityName[] = ['user', 'group', 'servicePrincipal', 'orgContact', 'device'];

/**
 * Answers one Graph request (already authenticated) under `/v1.0` or `/beta`. `origin` is the
 * emulator's https origin, used for absolute nextLink/deltaLink URLs as Graph builds them.
 */
export function routeGraph(req: EmuRequest, roles: string[], origin: string, ctx: GraphContext): EmuResponse {
  let segments: string[];
  try {
    segments = req.url.pathname.split('/').filter(Boolean).map(decodeURIComponent).map(normalizeSegment);
  } catch {
    return errors.badRoute(req);
  }
  const version = segments.shift()!;
  const root = `${origin}/${version}`;
  const allow = (needed: string[]) => needed.some((r) => roles.includes(r));
  const [first, second, third, fourth, fifth] = segments;
  if (first === undefined) return errors.badRoute(req);
  const m = req.method;

  if (first === 'directory' && second === 'deletedItems') {
    const { response, entity } = handleDeletedItems(req, segments.slice(2), root, ctx);
    if (entity) {
      const needed = req.method === 'GET' ? READ[entity] : DELETE[entity];
      if (!allow(needed)) return errors.forbidden(req);
    }
    return response;
  }
  if (first === 'directoryObjects' && second === 'getByIds' && third === undefined) {
    if (m !== 'POST') return errors.methodNotAllowed(req);
    return handleGetByIds(req, root, ctx, (e) => allow(READ[e]));
  }
  if (first === 'directoryObjects' && second && !third) {
    const bad = checkKey(req, undefined, second);
    if (bad) return bad;
    if (m !== 'GET') return errors.methodNotAllowed(req);
    const o = ctx.store.get(second);
    if (!o) return errors.notFound(req, second);
    if (!allow(READ[o.entity])) return errors.forbidden(req);
    return handleDirectoryObject(req, o, root);
  }

  if (first === 'subscribedSkus' && third === undefined)
    return allow(['Organization.Read.All', ...DIRECTORY_READ])
      ? handleSubscribedSkus(req, second, root, ctx.store)
      : errors.forbidden(req);
  if (first === 'invitations' && second === undefined)
    return allow(['User.Invite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'])
      ? handleInvitation(req, root, ctx.store, ctx.now)
      : errors.forbidden(req);

  const entity = entityFromCollection(first);
  if (!entity) return errors.badRoute(req, first);
  const collectionUrl = `${root}/${first}`;

  if (second === undefined) {
    if (m === 'GET')
      return allow(READ[entity]) ? handleList(req, entity, collectionUrl, ctx) : errors.forbidden(req);
    if (m === 'POST')
      return allow([...WRITE[entity], ...(CREATE_EXTRA[entity] ?? [])])
        ? handleCreate(req, entity, collectionUrl, ctx)
        : errors.forbidden(req);
    return errors.methodNotAllowed(req);
  }
  if (second === 'delta' && third === undefined) {
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
  const bad = checkKey(req, entity, key);
  if (bad) return bad;

  if (third === undefined) {
    if (m === 'GET')
      return allow(READ[entity]) ? handleGet(req, entity, key, collectionUrl, ctx) : errors.forbidden(req);
    if (m === 'PATCH')
      return allow(WRITE[entity]) ? handleUpdate(req, entity, key, ctx) : errors.forbidden(req);
    if (m === 'DELETE')
      return allow(DELETE[entity]) ? handleDelete(req, entity, key, ctx) : errors.forbidden(req);
    return errors.methodNotAllowed(req);
  }

  const owner = lookup(ctx.store, entity, key);
  if (!owner) return errors.notFound(req, key);
  const tail = relationshipTail(segments.slice(3));

  if (entity === 'user' && third === 'assignLicense' && fourth === undefined) {
    if (m !== 'POST') return errors.methodNotAllowed(req);
    return allow(WRITE.user)
      ? handleAssignLicense(req, owner, root, ctx.store, ctx.now)
      : errors.forbidden(req);
  }
  if (entity === 'user' && third === 'manager') {
    if ((fourth !== undefined && fourth !== '$ref') || fifth !== undefined) return errors.badRoute(req);
    const needed = m === 'GET' ? READ.user : WRITE.user;
    return allow(needed)
      ? handleManager(req, owner, fourth === '$ref', root, ctx.store)
      : errors.forbidden(req);
  }
  if (
    (entity === 'user' && third === 'directReports') ||
    (MEMBER_TYPES.includes(entity) && third === 'memberOf')
  ) {
    if (!tail) return errors.badRoute(req);
    if (m !== 'GET') return errors.methodNotAllowed(req);
    if (!allow(READ[entity])) return errors.forbidden(req);
    return third === 'memberOf'
      ? handleMemberOf(req, owner, collectionUrl, ctx, tail.counting, tail.cast)
      : handleDirectReports(req, owner, collectionUrl, ctx, tail.counting, tail.cast);
  }
  if (!storedLinks(entity).includes(third))
    return isRelationship(entity, third)
      ? graphError(req, 501, 'NotImplemented', `The emulator does not serve '${third}' of ${entity}.`)
      : errors.badRoute(req);

  // members, members/$count, members/microsoft.graph.user, members/microsoft.graph.user/$count
  if (tail) {
    if (m !== 'GET') return errors.methodNotAllowed(req);
    if (!allow(READ[entity])) return errors.forbidden(req);
    return tail.counting
      ? handleNavigationCount(req, owner, third, ctx, tail.cast)
      : handleNavigationList(req, owner, third, collectionUrl, ctx, tail.cast);
  }
  if (fourth === '$ref' && fifth === undefined) {
    if (m !== 'POST') return errors.methodNotAllowed(req);
    return allow(linkWrite(entity, third))
      ? handleAddRef(req, owner, third, ctx.store)
      : errors.forbidden(req);
  }
  const target = fourth === undefined ? undefined : checkKey(req, undefined, fourth);
  if (target) return target;
  if (fifth === '$ref' && segments.length === 5) {
    if (m !== 'DELETE') return errors.methodNotAllowed(req);
    return allow(linkWrite(entity, third))
      ? handleRemoveRef(req, owner, third, fourth!, ctx.store)
      : errors.forbidden(req);
  }
  if (fifth === undefined && m === 'DELETE') {
    // Without /$ref Graph deletes the linked object itself, if the app may (group-delete-members.md).
    const linked = ctx.store.get(fourth!);
    if (!linked || !owner.links?.[third]?.has(linked.id)) return errors.notFound(req, fourth!);
    if (!allow(DELETE[linked.entity])) return errors.forbidden(req);
    return handleDelete(req, linked.entity, linked.id, ctx);
  }
  return errors.badRoute(req);
}
