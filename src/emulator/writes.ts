import { entityInfo, type EntityName } from '../graph/schema.js';
import { lookup } from './collections.js';
import { conflictMessage, errors, graphError, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { acceptsTarget } from './links.js';
import { renderObject, resolveSelect } from './render.js';
import { StoreError, type DirectoryStore, type StoredObject } from './store.js';
import {
  checkMailNickname,
  checkPassword,
  checkProperty,
  checkUserPrincipalName,
  invalidValue,
  requiredValue,
} from './validate.js';

/** At most 20 `members@odata.bind` / `owners@odata.bind` in one request (group-post-groups.md). */
const MAX_BINDS = 20;

export interface WriteContext {
  store: DirectoryStore;
  now: () => number;
}

function storeErrorResponse(req: EmuRequest, e: unknown): EmuResponse {
  if (!(e instanceof StoreError)) throw e;
  if (e.kind === 'notFound') return graphError(req, 404, 'Request_ResourceNotFound', e.message);
  if (e.message === conflictMessage('userPrincipalName')) return errors.conflict(req, 'userPrincipalName');
  return errors.badRequest(req, e.message);
}

/** Splits a body into plain properties and `<nav>@odata.bind` lists, checking each against Graph's rules. */
function checkBody(
  req: EmuRequest,
  entity: EntityName,
  body: Record<string, unknown>,
  ctx: WriteContext,
): { props: Record<string, unknown>; binds: Map<string, string[]> } | EmuResponse {
  const props: Record<string, unknown> = {};
  const binds = new Map<string, string[]>();
  let bindCount = 0;
  for (const [key, value] of Object.entries(body)) {
    if (key.endsWith('@odata.bind')) {
      const nav = key.slice(0, -'@odata.bind'.length);
      if (!entityInfo(entity).linkNavigations.includes(nav) || !Array.isArray(value))
        return errors.badRequest(
          req,
          `Property '${key}' does not exist as a declared property or extension property.`,
        );
      const ids: string[] = [];
      for (const ref of value) {
        const id = typeof ref === 'string' ? /\/([0-9a-fA-F-]{36})\/?$/.exec(ref)?.[1] : undefined;
        if (!id) return errors.badRequest(req, `Invalid object identifier '${String(ref)}'.`);
        if (!ctx.store.get(id)) return errors.notFound(req, id);
        ids.push(id.toLowerCase());
      }
      bindCount += ids.length;
      binds.set(nav, ids);
      continue;
    }
    if (key.startsWith('@odata.')) continue;
    const problem = checkProperty(entity, key, value);
    if (problem) return errors.badRequest(req, problem);
    props[key] = value;
  }
  if (bindCount > MAX_BINDS)
    return errors.badRequest(
      req,
      `The request exceeds the maximum of ${MAX_BINDS} directory object references that can be bound at once.`,
    );
  if (typeof props.mailNickname === 'string') {
    const problem = checkMailNickname(entity, props.mailNickname);
    if (problem) return errors.badRequest(req, problem);
  }
  if (entity === 'user' && typeof props.userPrincipalName === 'string') {
    const problem = checkUserPrincipalName(props.userPrincipalName, ctx.store.domains);
    if (problem) return errors.badRequest(req, problem);
  }
  return { props, binds };
}

function isUnified(o: { data: Record<string, unknown> }): boolean {
  return Array.isArray(o.data.groupTypes) && o.data.groupTypes.includes('Unified');
}

/**
 * Whether a Microsoft 365 group already uses this mail nickname: it becomes the group's address, so it
 * is unique among them (directoryobject-validateproperties.md). Security groups may share one.
 * Writes are rare next to reads: a scan of the groups is fine here.
 */
function unifiedNicknameTaken(store: DirectoryStore, nick: string, except?: string): boolean {
  const lower = nick.toLowerCase();
  for (const g of store.entityStore('group').slots)
    if (
      g &&
      g.id !== except &&
      isUnified(g) &&
      typeof g.data.mailNickname === 'string' &&
      g.data.mailNickname.toLowerCase() === lower
    )
      return true;
  return false;
}

/**
 * Checks `<nav>@odata.bind` lists against the owner: member types it accepts and links it already has.
 * Graph adds all or none (group-post-members.md).
 */
function checkBinds(
  req: EmuRequest,
  owner: StoredObject,
  binds: Map<string, string[]>,
  store: DirectoryStore,
): EmuResponse | undefined {
  for (const [nav, ids] of binds)
    for (const id of ids) {
      const target = store.get(id)!;
      if (!acceptsTarget(owner, nav, target))
        return errors.badRequest(
          req,
          `An object of type '${target.entity}' cannot be added to '${nav}' of this ${owner.entity}.`,
        );
      if (owner.links?.[nav]?.has(target.id) || ids.indexOf(id) !== ids.lastIndexOf(id))
        return errors.badRequest(
          req,
          `One or more added object references already exist for the following modified properties: '${nav}'.`,
        );
    }
  return undefined;
}

/** `POST /users`, `POST /groups`. */
export function handleCreate(
  req: EmuRequest,
  entity: EntityName,
  collectionUrl: string,
  ctx: WriteContext,
): EmuResponse {
  if (entity !== 'user' && entity !== 'group') return errors.methodNotAllowed(req);
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const checked = checkBody(req, entity, parsed.body, ctx);
  if ('status' in checked) return checked;
  const { props, binds } = checked;
  for (const required of entityInfo(entity).requiredOnCreate)
    if (props[required] === undefined || props[required] === null)
      return errors.badRequest(req, requiredValue(entity, required));
  const created = new Date(ctx.now()).toISOString().replace(/\.\d+Z$/, 'Z');
  if (entity === 'user') {
    const upn = String(props.userPrincipalName);
    const profile = props.passwordProfile as Record<string, unknown>;
    const problem = checkPassword(profile.password, upn.slice(0, upn.lastIndexOf('@')));
    if (problem) return errors.badRequest(req, problem);
    if (ctx.store.userByPrincipalName(upn)) return errors.conflict(req, 'userPrincipalName');
    // The password is write-only: Graph never returns it, and the emulator does not keep it.
    const { password: _password, ...rest } = profile;
    props.passwordProfile = rest;
    props.createdDateTime = created;
    props.userType ??= upn.includes('#EXT#') ? 'Guest' : 'Member';
  } else {
    const unified = Array.isArray(props.groupTypes) && props.groupTypes.includes('Unified');
    if (props.mailEnabled === true && !unified)
      return errors.badRequest(
        req,
        'Mail-enabled security groups and distribution groups cannot be created through Microsoft Graph.',
      );
    if (props.mailEnabled !== true && unified)
      return errors.badRequest(req, invalidValue('group', 'mailEnabled'));
    if (unified && unifiedNicknameTaken(ctx.store, String(props.mailNickname)))
      return errors.conflict(req, 'mailNickname');
    props.groupTypes ??= [];
    props.createdDateTime = created;
    props.renewedDateTime = created;
    if (unified) {
      const mail = `${String(props.mailNickname)}@${ctx.store.domains[0] ?? 'contoso.onmicrosoft.com'}`;
      props.mail = mail;
      props.proxyAddresses = [`SMTP:${mail}`];
      props.visibility ??= 'Public';
    }
  }
  const bindProblem = checkBinds(req, { id: '', entity, data: props, links: {}, slot: -1 }, binds, ctx.store);
  if (bindProblem) return bindProblem;
  let object: StoredObject;
  try {
    object = ctx.store.create(entity, props);
    for (const [nav, ids] of binds) for (const id of ids) ctx.store.addLink(object.id, nav, id);
  } catch (e) {
    return storeErrorResponse(req, e);
  }
  const sel = resolveSelect(entity, null, false);
  const root = collectionUrl.replace(/\/[^/]+$/, '');
  return {
    status: 201,
    headers: {
      location: `${root}/directoryObjects/${object.id}/Microsoft.DirectoryServices.${entity[0]!.toUpperCase()}${entity.slice(1)}`,
    },
    body: {
      '@odata.context': `${root}/$metadata#${entityInfo(entity).collection}/$entity`,
      ...renderObject(object, sel.ok ? sel.selection.props : ['id'], { nulls: true }),
    },
  };
}

/** `PATCH /users/{id|upn}`, `/groups/{id}`, `/servicePrincipals/{id}` → 204. */
export function handleUpdate(
  req: EmuRequest,
  entity: EntityName,
  key: string,
  ctx: WriteContext,
): EmuResponse {
  if (entity !== 'user' && entity !== 'group' && entity !== 'servicePrincipal')
    return errors.methodNotAllowed(req);
  const object = lookup(ctx.store, entity, key);
  if (!object) return errors.notFound(req, key);
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const checked = checkBody(req, entity, parsed.body, ctx);
  if ('status' in checked) return checked;
  const { props, binds } = checked;
  if ('displayName' in props && !props.displayName)
    return errors.badRequest(req, invalidValue(entity, 'displayName'));
  if (entity === 'user') {
    if ('mail' in props && props.mail === null) return errors.badRequest(req, invalidValue('user', 'mail'));
    if (props.passwordProfile) {
      const profile = props.passwordProfile as Record<string, unknown>;
      const upn = String(props.userPrincipalName ?? object.data.userPrincipalName);
      const problem = checkPassword(profile.password, upn.slice(0, upn.lastIndexOf('@')));
      if (problem) return errors.badRequest(req, problem);
      const { password: _password, ...rest } = profile;
      props.passwordProfile = rest;
    }
  }
  if (
    entity === 'group' &&
    isUnified(object) &&
    typeof props.mailNickname === 'string' &&
    unifiedNicknameTaken(ctx.store, props.mailNickname, object.id)
  )
    return errors.conflict(req, 'mailNickname');
  const bindProblem = checkBinds(req, object, binds, ctx.store);
  if (bindProblem) return bindProblem;
  try {
    if (Object.keys(props).length > 0 || binds.size === 0) ctx.store.update(object.id, props);
    for (const [nav, ids] of binds) for (const id of ids) ctx.store.addLink(object.id, nav, id);
  } catch (e) {
    return storeErrorResponse(req, e);
  }
  return { status: 204 };
}

/**
 * Whether deleting this object puts it in deleted items for 30 days: users, service principals and
 * groups of both kinds (group-delete.md: "both Microsoft 365 and security groups are moved to a
 * temporary container"); distribution groups, which Graph cannot create, are deleted for good.
 */
export function softDeletes(o: { entity: EntityName; data: Record<string, unknown> }): boolean {
  if (o.entity !== 'group') return true;
  return isUnified(o) || o.data.mailEnabled !== true || o.data.securityEnabled === true;
}

/** `DELETE /users/{id}`, `/groups/{id}`, `/servicePrincipals/{id}`: to deleted items (see softDeletes). */
export function handleDelete(
  req: EmuRequest,
  entity: EntityName,
  key: string,
  ctx: WriteContext,
): EmuResponse {
  if (entity !== 'user' && entity !== 'group' && entity !== 'servicePrincipal')
    return errors.methodNotAllowed(req);
  const object = lookup(ctx.store, entity, key);
  if (!object) return errors.notFound(req, key);
  if (softDeletes(object)) ctx.store.softDelete(object.id);
  else ctx.store.hardDelete(object.id);
  return { status: 204 };
}
