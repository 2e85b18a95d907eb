import type { DirectoryStore, StoredObject } from './store.js';

/** Positions of directory roles in `memberOf`, after every group slot. */
const ROLES_FROM = 1_000_000_000;

/**
 * The groups and directory roles an object is a direct member of (`/users/{id}/memberOf`,
 * user-list-memberof.md), at stable positions from `from` on: group slots, then role slots.
 * A scan of the groups: the directory answers it from an index, but the emulator serves it rarely.
 */
export function* memberOf(
  store: DirectoryStore,
  member: StoredObject,
  from = 0,
): IterableIterator<[number, StoredObject]> {
  const groups = store.entityStore('group').slots;
  for (let i = Math.min(from, ROLES_FROM); i < groups.length && i < ROLES_FROM; i++) {
    const g = groups[i];
    if (g && !g.deletedAt && g.links?.members?.has(member.id)) yield [i, g];
  }
  const roles = store.entityStore('directoryRole').slots;
  for (let j = Math.max(0, from - ROLES_FROM); j < roles.length; j++) {
    const r = roles[j];
    if (r && !r.deletedAt && r.links?.members?.has(member.id)) yield [ROLES_FROM + j, r];
  }
}
