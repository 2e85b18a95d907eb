import type { LinkTable, Mapping } from '../types.js';
import { OBJECT_TABLE } from './encode-row.js';

/**
 * The tables of an export and their columns (DESIGN.md §3), worked out from the mapping: the
 * `directoryobjects` table and one link table per exported navigation.
 */

/** The tables an export writes and their headers (DESIGN.md §3). */
export function exportTables(mapping: Mapping): { table: string; columns: string[] }[] {
  return [
    { table: OBJECT_TABLE, columns: ['Command', '@odata.type', ...directoryObjectColumns(mapping)] },
    ...linkTables(mapping).map((l) => ({ table: l.table, columns: ['Command', l.ownerColumn, 'id'] })),
  ];
}

/** The attribute columns of `directoryobjects`: every entity's attributes, `id` included, sorted. */
export function directoryObjectColumns(mapping: Mapping): string[] {
  return [...new Set(mapping.entities.flatMap((e) => e.attributes))].sort(compareColumns);
}

/** One link table per exported navigation: `members_group` with owner column `groupId`. */
export function linkTables(mapping: Mapping): LinkTable[] {
  return mapping.entities.flatMap(({ entity, navigations }) =>
    navigations.map((navigation) => ({
      table: `${navigation}_${entity}`,
      entity,
      navigation,
      ownerColumn: `${entity}Id`,
    })),
  );
}

/** Ordinal comparison of lower-cased names (the Identity Manager column order), ties by exact name. */
export function compareColumns(a: string, b: string): number {
  const x = a.toLowerCase();
  const y = b.toLowerCase();
  if (x !== y) return x < y ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
