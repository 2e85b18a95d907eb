import { entityFromOdataType, type EntityName } from '../graph/schema.js';

/** An Entra object id. */
export const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * One path segment in the form the router matches. Graph accepts a function both bare and fully
 * qualified, with or without its empty parameter list: `delta`, `delta()`, `microsoft.graph.delta`
 * (delta-query-overview.md: "/delta is a shortcut for /microsoft.graph.delta"), and Kiota's SDKs send
 * `delta()`; type casts come fully qualified (`microsoft.graph.user`) or with the namespace alias the SDKs
 * use (`graph.user`). Functions come out bare (`delta`), casts fully qualified.
 * @example normalizeSegment('microsoft.graph.delta()') // → 'delta'
 * @example normalizeSegment('graph.user') // → 'microsoft.graph.user'
 */
export function normalizeSegment(segment: string): string {
  let s = segment.endsWith('()') ? segment.slice(0, -2) : segment;
  if (/^graph\.[A-Za-z]+$/.test(s)) s = `microsoft.${s}`;
  const bound = /^microsoft\.graph\.(delta|getByIds|restore|assignLicense)$/.exec(s);
  return bound ? bound[1]! : s;
}

/** The entity a type-cast segment names (`microsoft.graph.user` → `user`), if any. */
export function castOf(segment: string | undefined): EntityName | undefined {
  return segment === undefined ? undefined : entityFromOdataType(segment);
}
