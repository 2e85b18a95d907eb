import type { EntityName } from '../graph/schema.js';
import type { FilterNode } from './odata-filter.js';
import type { DirectoryStore, EntityStore } from './store.js';

/**
 * Graph indexes the properties `$filter` supports by default: a `startswith` on userPrincipalName
 * costs it a page, not a scan of the tenant. The emulator scanned every object for each filtered page
 * and `$count`, so a client listing a large tenant in partitions paid (in the emulator's CPU, on the
 * same machine) for work real Graph does not do. This index answers `startswith`/`eq` (and `or`s of
 * them) on one property from a sorted copy of its lower-cased values: the matching slot positions,
 * in slot order, the order the list pages in. It is rebuilt on the next query after any change.
 */
const INDEXED: Partial<Record<EntityName, string[]>> = {
  user: ['userPrincipalName', 'mailNickname', 'displayName'],
  group: ['mailNickname', 'displayName'],
};

interface Index {
  key: string;
  values: string[];
  slots: Int32Array;
}

const indexes = new WeakMap<EntityStore, Map<string, Index>>();

/** The terms of an `or` of `startswith`/`eq` on one property, or undefined for any other filter. */
function terms(node: FilterNode, out: { prop?: string; prefixes: [string, boolean][] }): boolean {
  if (node.op === 'or') return terms(node.left, out) && terms(node.right, out);
  if (node.op !== 'startswith' && node.op !== 'eq') return false;
  if (typeof node.value !== 'string') return false;
  if (out.prop !== undefined && out.prop !== node.prop) return false;
  out.prop = node.prop;
  out.prefixes.push([node.value.toLowerCase(), node.op === 'eq']);
  return true;
}

function build(store: EntityStore, prop: string, key: string): Index {
  const entries: [string, number][] = [];
  store.slots.forEach((o, slot) => {
    const v = o && !o.deletedAt ? o.data[prop] : undefined;
    if (typeof v === 'string') entries.push([v.toLowerCase(), slot]);
  });
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] - b[1]));
  return { key, values: entries.map((e) => e[0]), slots: Int32Array.from(entries, (e) => e[1]) };
}

/** First index in sorted `values` not below `v`. */
function lowerBound(values: string[], v: string): number {
  let lo = 0;
  let hi = values.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (values[mid]! < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * The slot positions (ascending) of the live objects of `entity` matching `filter`, when the filter is
 * an `or` of `startswith`/`eq` on an indexed property; undefined otherwise (the caller scans).
 */
export function indexedPositions(
  directory: DirectoryStore,
  entity: EntityName,
  filter: FilterNode,
): Int32Array | undefined {
  const t: { prop?: string; prefixes: [string, boolean][] } = { prefixes: [] };
  if (!terms(filter, t) || !INDEXED[entity]?.includes(t.prop!)) return undefined;
  // Non-ASCII prefixes: lower-casing rules differ from the evaluator's in corner cases; scan instead.
  if (t.prefixes.some(([p]) => /[^\x20-\x7e]/.test(p))) return undefined;
  const store = directory.entityStore(entity);
  let byProp = indexes.get(store);
  if (!byProp) indexes.set(store, (byProp = new Map()));
  const key = `${directory.seq}:${directory.generation}:${store.slots.length}`;
  let index = byProp.get(t.prop!);
  if (!index || index.key !== key) byProp.set(t.prop!, (index = build(store, t.prop!, key)));
  const { values, slots } = index;
  const found: number[] = [];
  for (const [prefix, exact] of t.prefixes) {
    for (let i = lowerBound(values, prefix); i < values.length; i++) {
      const v = values[i]!;
      if (exact ? v !== prefix : !v.startsWith(prefix)) break;
      found.push(slots[i]!);
    }
  }
  const out = Int32Array.from(found).sort();
  // An object matching two terms is listed once.
  let n = 0;
  for (let i = 0; i < out.length; i++) if (i === 0 || out[i] !== out[i - 1]) out[n++] = out[i]!;
  return out.subarray(0, n);
}
