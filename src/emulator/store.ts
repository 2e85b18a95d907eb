import { randomUUID } from 'node:crypto';
import type { EntityName } from '../graph/schema.js';
import { DEFAULT_SKUS, type Sku } from './licenses.js';
import { LinkSet } from './link-set.js';

const SAFE_ID = /^[0-9a-z._~-]{1,128}$/;

/** Entities the emulated directory holds, in the order they are listed. */
export const STORED_ENTITIES: EntityName[] = [
  'user',
  'group',
  'servicePrincipal',
  'directoryRole',
  'orgContact',
  'device',
];

/**
 * Relationships the emulated directory keeps as links, per type: those delta tracks as `<nav>@delta`
 * and clients write with `$ref`. `manager` is single-valued: a user has one link at most.
 */
const STORED_LINKS: Partial<Record<EntityName, string[]>> = {
  user: ['manager'],
  group: ['members', 'owners'],
  directoryRole: ['members'],
};

/** The relationships the emulator stores as links for an entity (see STORED_LINKS). */
export function storedLinks(entity: EntityName): string[] {
  return STORED_LINKS[entity] ?? [];
}

/** A directory object. `data` holds every property that was ever set, except `id`. */
export interface StoredObject {
  id: string;
  entity: EntityName;
  data: Record<string, unknown>;
  /** Set while the object sits in `directory/deletedItems`. */
  deletedAt?: string;
  /** Position in its entity's slots (stable: list and delta cursors are slot positions). */
  slot: number;
  /** Linked object ids per navigation, each with the linked object's entity. */
  links?: Partial<Record<string, LinkSet<EntityName>>>;
}

/**
 * One change, in the order it happened. `props: null` means the whole object (a create or a restore);
 * delta rounds replay this log, filtered by what each round tracks.
 */
export type ChangeEntry =
  | { seq: number; id: string; kind: 'upsert'; props: string[] | null }
  | { seq: number; id: string; kind: 'delete'; reason: 'changed' | 'deleted' }
  | { seq: number; id: string; kind: 'link'; nav: string; target: string; removed: boolean };

/** Objects of one entity type: stable slots for paging, plus the type's change log. */
export class EntityStore {
  readonly slots: (StoredObject | null)[] = [];
  readonly log: ChangeEntry[] = [];
  /** Number of live objects. */
  liveCount = 0;
  constructor(readonly entity: EntityName) {}

  /** Index in `log` of the first entry with a sequence number above `seq` (binary search). */
  logPositionAfter(seq: number): number {
    let lo = 0;
    let hi = this.log.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.log[mid]!.seq <= seq) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Live (not soft-deleted) objects. */
  *live(): IterableIterator<StoredObject> {
    for (const o of this.slots) if (o && !o.deletedAt) yield o;
  }
}

/** An error of the store's own invariants; the HTTP layer maps `kind` to Graph's status and code. */
export class StoreError extends Error {
  constructor(
    readonly kind: 'notFound' | 'conflict' | 'invalid',
    message: string,
  ) {
    super(message);
  }
}

export interface StoreOptions {
  tenantId: string;
  domains: string[];
  now?: () => number;
  /** The tenant's subscriptions (`subscribedSkus`); two well-known SKUs by default. */
  skus?: Sku[];
}

/**
 * The emulated tenant's directory: objects, links and the change log behind delta queries. Mutations
 * here keep invariants (unique ids, unique userPrincipalName, links to existing objects); Graph's
 * request validation lives in the HTTP layer.
 */
export class DirectoryStore {
  readonly tenantId: string;
  readonly domains: string[];
  /** The tenant's subscriptions: licences users can be assigned. */
  readonly skus: Sku[];
  /** Sequence number of the last change. */
  seq = 0;
  /** Bumped by a synchronization reset: delta tokens of an older generation get 410 Gone. */
  generation = 1;
  private readonly stores = new Map<EntityName, EntityStore>();
  private readonly byId = new Map<string, StoredObject>();
  /** userPrincipalName (lower case) → id, of live users: a soft-deleted user's name may be taken again. */
  private readonly upns = new Map<string, string>();
  /** Manager id → ids of the users whose manager it is (`directReports`). */
  private readonly reports = new Map<string, Set<string>>();
  /** Ids of soft-deleted objects (there are few): lets link readers skip them without a lookup. */
  readonly softDeleted = new Set<string>();
  private readonly tombstones = new Map<string, EntityName>();
  private readonly now: () => number;

  constructor(options: StoreOptions) {
    this.tenantId = options.tenantId;
    this.domains = options.domains;
    this.skus = structuredClone(options.skus ?? DEFAULT_SKUS);
    this.now = options.now ?? Date.now;
    for (const e of STORED_ENTITIES) this.stores.set(e, new EntityStore(e));
  }

  entityStore(entity: EntityName): EntityStore {
    return this.stores.get(entity)!;
  }

  /** An object by id; soft-deleted ones only with `includeDeleted`. */
  get(id: string, options: { includeDeleted?: boolean } = {}): StoredObject | undefined {
    const o = this.byId.get(id) ?? this.byId.get(id.toLowerCase());
    if (!o || (o.deletedAt && !options.includeDeleted)) return undefined;
    return o;
  }

  /** The entity of an object, live, soft-deleted or permanently deleted. */
  entityOf(id: string): EntityName | undefined {
    return this.byId.get(id)?.entity ?? this.tombstones.get(id);
  }

  /** A live user by userPrincipalName (case-insensitive). */
  userByPrincipalName(upn: string): StoredObject | undefined {
    const id = this.upns.get(upn.toLowerCase());
    return id === undefined ? undefined : this.byId.get(id);
  }

  /** Number of live objects of an entity. */
  count(entity: EntityName): number {
    return this.entityStore(entity).liveCount;
  }

  /**
   * Adds an object. `log: false` is for loading a tenant: the objects exist before any delta round.
   * `adopt` takes `data` as it is instead of a copy; `unique` skips the checks for a taken id or name.
   */
  create(
    entity: EntityName,
    data: Record<string, unknown>,
    options: { id?: string; log?: boolean; adopt?: boolean; unique?: boolean } = {},
  ): StoredObject {
    const id = (options.id ?? randomUUID()).toLowerCase();
    // Ids go into pages unescaped (page-writer.ts): keep them to the characters of GUIDs and the like.
    if (!SAFE_ID.test(id)) throw new StoreError('invalid', `Invalid object identifier '${id}'.`);
    // `unique`: the caller (the tenant generator) vouches for new ids and names; a million lookups saved.
    if (!options.unique && this.byId.has(id))
      throw new StoreError('conflict', `An object with id '${id}' already exists.`);
    if (entity === 'user') {
      const upn = data.userPrincipalName;
      if (typeof upn !== 'string') throw new StoreError('invalid', 'A user needs a userPrincipalName.');
      const key = upn.toLowerCase();
      if (!options.unique && this.upns.has(key))
        throw new StoreError(
          'conflict',
          'Another object with the same value for property userPrincipalName already exists.',
        );
      this.upns.set(key, id);
    }
    // `adopt`: the caller hands over a fresh object (bulk loading); otherwise keep a copy of our own.
    // The directory does not tell an empty collection from one never set: keep neither.
    if (!options.adopt) data = withoutEmpty(data);
    const store = this.entityStore(entity);
    const object: StoredObject = {
      id,
      entity,
      data: options.adopt ? data : { ...data },
      slot: store.slots.length,
    };
    const linkNavs = storedLinks(entity);
    if (linkNavs.length) {
      object.links = {};
      for (const nav of linkNavs) object.links[nav] = new LinkSet();
    }
    store.slots.push(object);
    store.liveCount++;
    this.byId.set(id, object);
    if (options.log !== false) this.append(store, { id, kind: 'upsert', props: null });
    return object;
  }

  /** Sets properties; a `null` value clears one (the key is removed). */
  update(id: string, patch: Record<string, unknown>): StoredObject {
    const object = this.require(id);
    const changed: string[] = [];
    if (object.entity === 'user' && typeof patch.userPrincipalName === 'string') {
      const next = patch.userPrincipalName.toLowerCase();
      const owner = this.upns.get(next);
      if (owner !== undefined && owner !== object.id)
        throw new StoreError(
          'conflict',
          'Another object with the same value for property userPrincipalName already exists.',
        );
      this.upns.delete(String(object.data.userPrincipalName).toLowerCase());
      this.upns.set(next, object.id);
    }
    for (const [key, value] of Object.entries(patch)) {
      if (key === 'id') continue;
      if (value === null || value === undefined || (Array.isArray(value) && value.length === 0)) {
        if (key in object.data) {
          delete object.data[key];
          changed.push(key);
        }
      } else if (JSON.stringify(object.data[key]) !== JSON.stringify(value)) {
        object.data[key] = value;
        changed.push(key);
      }
    }
    // Graph logs a PATCH even when nothing changed; delta shows the object again (a replay).
    this.append(this.entityStore(object.entity), { id: object.id, kind: 'upsert', props: changed });
    return object;
  }

  /** Moves an object to deleted items (users, Microsoft 365 groups, service principals). */
  softDelete(id: string): StoredObject {
    const object = this.require(id);
    this.markDeleted(object, new Date(this.now()).toISOString());
    this.append(this.entityStore(object.entity), { id: object.id, kind: 'delete', reason: 'changed' });
    return object;
  }

  /** Puts an object in deleted items without a change-log entry (loading a tenant). */
  markDeleted(object: StoredObject, deletedAt: string): void {
    if (!object.deletedAt) {
      this.entityStore(object.entity).liveCount--;
      this.softDeleted.add(object.id);
      this.releaseName(object);
    }
    object.deletedAt = deletedAt;
  }

  /**
   * Brings a soft-deleted object back, with its links. A user whose userPrincipalName another user
   * took meanwhile cannot come back (a conflict).
   */
  restore(id: string): StoredObject {
    const object = this.byId.get(id.toLowerCase());
    if (!object?.deletedAt) throw new StoreError('notFound', `Resource '${id}' does not exist.`);
    if (object.entity === 'user') {
      const upn = String(object.data.userPrincipalName).toLowerCase();
      if (this.upns.has(upn))
        throw new StoreError(
          'conflict',
          'Another object with the same value for property userPrincipalName already exists.',
        );
      this.upns.set(upn, object.id);
    }
    delete object.deletedAt;
    this.softDeleted.delete(object.id);
    this.entityStore(object.entity).liveCount++;
    this.append(this.entityStore(object.entity), { id: object.id, kind: 'upsert', props: null });
    return object;
  }

  /** Deletes an object for good (live or soft-deleted), and every link to it. */
  hardDelete(id: string): void {
    const object = this.byId.get(id.toLowerCase());
    if (!object) throw new StoreError('notFound', `Resource '${id}' does not exist.`);
    const store = this.entityStore(object.entity);
    store.slots[object.slot] = null;
    if (object.deletedAt) this.softDeleted.delete(object.id);
    else store.liveCount--;
    this.byId.delete(object.id);
    this.tombstones.set(object.id, object.entity);
    this.releaseName(object);
    this.append(store, { id: object.id, kind: 'delete', reason: 'deleted' });
    // A permanently deleted object leaves every group and role it was linked from, and its reports
    // lose their manager.
    for (const owner of [...this.entityStore('group').slots, ...this.entityStore('directoryRole').slots]) {
      if (!owner?.links) continue;
      for (const [nav, set] of Object.entries(owner.links))
        if (set?.delete(object.id)) this.appendLink(owner, nav, object.id, true);
    }
    for (const id of this.reports.get(object.id) ?? []) {
      const report = this.byId.get(id);
      if (report?.links?.manager?.delete(object.id)) this.appendLink(report, 'manager', object.id, true);
    }
    this.reports.delete(object.id);
    for (const manager of object.links?.manager ?? []) this.reports.get(manager)?.delete(object.id);
  }

  /** Adds a link; false when it already existed. */
  addLink(
    ownerId: string | StoredObject,
    nav: string,
    targetId: string,
    options: { log?: boolean } = {},
  ): boolean {
    const owner = typeof ownerId === 'string' ? this.require(ownerId) : ownerId;
    const set = owner.links?.[nav];
    if (!set) throw new StoreError('invalid', `${owner.entity} has no navigation '${nav}'.`);
    const target = this.require(targetId);
    if (nav === 'manager') {
      const current = [...set][0];
      if (current === target.id) return false;
      // One manager at most: setting another replaces it, logged as a removal and an addition.
      if (current !== undefined) this.removeLink(owner.id, nav, current, options);
      this.reports.set(target.id, (this.reports.get(target.id) ?? new Set()).add(owner.id));
    }
    if (!set.add(target.id, target.entity)) return false;
    if (options.log !== false) this.appendLink(owner, nav, target.id, false);
    return true;
  }

  /** Ids of the users whose manager `managerId` is (live or soft-deleted). */
  reportsOf(managerId: string): string[] {
    return [...(this.reports.get(managerId) ?? [])];
  }

  /**
   * Bulk loading: links `target` from `owner` without lookups, checks or a change-log entry. The
   * caller (the tenant generator) guarantees both exist and the link is new.
   */
  loadLink(owner: StoredObject, nav: string, target: StoredObject): void {
    owner.links![nav]!.load(target.id, target.entity);
    if (nav === 'manager')
      this.reports.set(target.id, (this.reports.get(target.id) ?? new Set()).add(owner.id));
  }

  /** Removes a link; false when there was none. */
  removeLink(ownerId: string, nav: string, targetId: string, options: { log?: boolean } = {}): boolean {
    const owner = this.require(ownerId);
    const set = owner.links?.[nav];
    if (!set) throw new StoreError('invalid', `${owner.entity} has no navigation '${nav}'.`);
    const target = targetId.toLowerCase();
    if (!set.delete(target)) return false;
    if (nav === 'manager') this.reports.get(target)?.delete(owner.id);
    if (options.log !== false) this.appendLink(owner, nav, target, true);
    return true;
  }

  /** Every live linked object of `owner` through `nav` (soft-deleted targets are hidden). */
  *linked(owner: StoredObject, nav: string): IterableIterator<StoredObject> {
    const set = owner.links?.[nav];
    if (!set) return;
    for (const id of set) {
      const o = this.byId.get(id);
      if (o && !o.deletedAt) yield o;
    }
  }

  /** Frees a user's userPrincipalName, if it is still this user's. */
  private releaseName(object: StoredObject): void {
    if (object.entity !== 'user') return;
    const upn = String(object.data.userPrincipalName).toLowerCase();
    if (this.upns.get(upn) === object.id) this.upns.delete(upn);
  }

  private require(id: string): StoredObject {
    const o = this.get(id);
    if (!o)
      throw new StoreError(
        'notFound',
        `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
      );
    return o;
  }

  private appendLink(owner: StoredObject, nav: string, target: string, removed: boolean): void {
    this.append(this.entityStore(owner.entity), { id: owner.id, kind: 'link', nav, target, removed });
  }

  private append(store: EntityStore, entry: DistributiveOmit<ChangeEntry, 'seq'>): void {
    store.log.push({ ...entry, seq: ++this.seq });
  }
}

type DistributiveOmit<T, K extends keyof never> = T extends unknown ? Omit<T, K> : never;

function withoutEmpty(data: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(data))
    if (v !== undefined && !(Array.isArray(v) && v.length === 0)) out[k] = v;
  return out;
}
