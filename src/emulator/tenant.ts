import { readFile } from 'node:fs/promises';
import { ENTITY_NAMES, entityInfo, type EntityName } from '../graph/schema.js';
import { DirectoryStore, type StoredObject } from './store.js';
import { softDeletes } from './writes.js';

/**
 * A tenant as a JSON file: collections keyed like Graph's (`users`, `groups`, ...), objects with
 * Graph's property names, and links as id lists (`members`, `owners`).
 */
export interface TenantData {
  tenantId?: string;
  domains?: string[];
  users?: TenantObject[];
  groups?: TenantObject[];
  servicePrincipals?: TenantObject[];
  directoryRoles?: TenantObject[];
  contacts?: TenantObject[];
  devices?: TenantObject[];
}

export type TenantObject = Record<string, unknown> & {
  id: string;
  members?: string[];
  owners?: string[];
  /** A user's manager: the id of a user or contact. */
  manager?: string;
};

/** Reads a tenant file, with a clear error naming the file. */
export async function readTenantFile(path: string): Promise<TenantData> {
  const text = await readFile(path, 'utf8');
  try {
    return JSON.parse(text.replace(/^\uFEFF/, '')) as TenantData;
  } catch (e) {
    throw new Error(`tenant file ${path} is not valid JSON: ${(e as Error).message}`, { cause: e });
  }
}

/** Loads tenant data into a store: objects first, then links, none of it in the change log. */
export function loadTenant(store: DirectoryStore, data: TenantData): void {
  const deferred: [StoredObject, string, string[]][] = [];
  for (const entity of ENTITY_NAMES) {
    const list = (data as Record<string, TenantObject[] | undefined>)[entityInfo(entity).collection] ?? [];
    for (const item of list) {
      const { id, members, owners, manager, deletedDateTime, ...props } = item;
      const object = store.create(entity, props, { id, log: false });
      if (typeof deletedDateTime === 'string') store.markDeleted(object, deletedDateTime);
      if (members) deferred.push([object, 'members', members]);
      if (owners) deferred.push([object, 'owners', owners]);
      if (typeof manager === 'string') deferred.push([object, 'manager', [manager]]);
    }
  }
  for (const [owner, nav, ids] of deferred)
    for (const id of ids) {
      if (!store.get(id))
        throw new Error(`tenant data: ${owner.entity} ${owner.id} links ${nav} to unknown object ${id}`);
      store.addLink(owner.id, nav, id, { log: false });
    }
}

/**
 * The mutation API tests use between two delta rounds: changes go through the same store as Graph
 * writes, so delta rounds see them exactly as they would see a change made through Graph.
 */
export class TenantApi {
  constructor(readonly store: DirectoryStore) {}

  get tenantId(): string {
    return this.store.tenantId;
  }

  get domain(): string {
    return this.store.domains[0]!;
  }

  create(entity: EntityName, props: Record<string, unknown>, id?: string): StoredObject {
    return this.store.create(entity, props, id ? { id } : {});
  }

  /** A user with sensible defaults for whatever `props` leaves out. */
  createUser(props: Record<string, unknown> = {}): StoredObject {
    const n = this.store.seq + 1;
    const nick = (props.mailNickname as string | undefined) ?? `newuser${n}`;
    return this.store.create('user', {
      accountEnabled: true,
      displayName: `New User ${n}`,
      mailNickname: nick,
      userPrincipalName: `${nick}@${this.domain}`,
      userType: 'Member',
      ...props,
    });
  }

  /** A security group with sensible defaults. */
  createGroup(props: Record<string, unknown> = {}): StoredObject {
    const n = this.store.seq + 1;
    return this.store.create('group', {
      displayName: `New Group ${n}`,
      mailNickname: `newgroup${n}`,
      mailEnabled: false,
      securityEnabled: true,
      groupTypes: [],
      ...props,
    });
  }

  update(id: string, patch: Record<string, unknown>): StoredObject {
    return this.store.update(id, patch);
  }

  /** Deletes as Graph does: users, service principals and groups go to deleted items (softDeletes). */
  delete(id: string): void {
    const o = this.store.get(id);
    if (o && !softDeletes(o)) this.store.hardDelete(id);
    else this.store.softDelete(id);
  }

  /** Deletes for good (also from deleted items). */
  purge(id: string): void {
    this.store.hardDelete(id);
  }

  restore(id: string): StoredObject {
    return this.store.restore(id);
  }

  addMember(ownerId: string, memberId: string): boolean {
    return this.store.addLink(ownerId, 'members', memberId);
  }

  removeMember(ownerId: string, memberId: string): boolean {
    return this.store.removeLink(ownerId, 'members', memberId);
  }

  /** Sets a user's manager (replacing the one it had); false when it already was. */
  setManager(userId: string, managerId: string): boolean {
    return this.store.addLink(userId, 'manager', managerId);
  }

  /** Removes a user's manager; false when it had none. */
  removeManager(userId: string): boolean {
    const current = this.links(userId, 'manager')[0];
    return current !== undefined && this.store.removeLink(userId, 'manager', current);
  }

  addOwner(groupId: string, ownerId: string): boolean {
    return this.store.addLink(groupId, 'owners', ownerId);
  }

  removeOwner(groupId: string, ownerId: string): boolean {
    return this.store.removeLink(groupId, 'owners', ownerId);
  }

  get(id: string, options: { includeDeleted?: boolean } = {}): StoredObject | undefined {
    return this.store.get(id, options);
  }

  /** Live objects of an entity. */
  list(entity: EntityName): StoredObject[] {
    return [...this.store.entityStore(entity).live()];
  }

  /** Ids linked from `ownerId` through `nav` (live targets only). */
  links(ownerId: string, nav: string): string[] {
    const owner = this.store.get(ownerId);
    return owner ? [...this.store.linked(owner, nav)].map((o) => o.id) : [];
  }

  /** A synchronization reset: every delta token in use gets 410 Gone with a Location to start over. */
  resetSync(): void {
    this.store.generation++;
  }
}
