import { entityInfo, type EntityName } from '../graph/schema.js';
import { errors } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import {
  FILTERABLE,
  FilterError,
  filterShape,
  matches,
  parseFilter,
  type FilterNode,
} from './odata-filter.js';
import { SearchError, matchesSearch, parseSearch, type SearchNode } from './search.js';
import type { StoredObject } from './store.js';

/**
 * Query options of directory collections (aad-advanced-queries.md): what works by default, what needs
 * the advanced query parameters (`ConsistencyLevel: eventual`, and `$count=true` but for `$search`).
 */

/** True when the request carries Graph's advanced-query switch. */
export function eventual(req: EmuRequest): boolean {
  return String(req.headers.consistencylevel ?? '').toLowerCase() === 'eventual';
}

/** How a query was asked: with `ConsistencyLevel: eventual`, and with `$count=true` too (advanced). */
export interface QueryMode {
  eventual: boolean;
  advanced: boolean;
}

export function queryMode(req: EmuRequest): QueryMode {
  const e = eventual(req);
  return { eventual: e, advanced: e && req.url.searchParams.get('$count') === 'true' };
}

type Compiled<T> = { ok: true; node: T | null } | { ok: false; response: EmuResponse };

function resourceName(entity: EntityName): string {
  return `${entity[0]!.toUpperCase()}${entity.slice(1)}`;
}

/** Parses `$filter` and checks it against what the list's entity types support. */
export function compileFilter(
  req: EmuRequest,
  entities: EntityName[],
  text: string | null,
  mode: QueryMode,
): Compiled<FilterNode> {
  if (text === null) return { ok: true, node: null };
  try {
    const node = parseFilter(text);
    const shape = filterShape(node);
    for (const prop of shape.props)
      if (
        !entities.some(
          (e) => FILTERABLE[e].includes(prop) || (mode.eventual && entityInfo(e).properties.has(prop)),
        )
      )
        return {
          ok: false,
          response: errors.unsupportedQuery(
            req,
            `Unsupported or invalid query filter clause specified for property '${prop}' of resource '${resourceName(entities.length === 1 ? entities[0]! : 'user')}'.`,
          ),
        };
    if (shape.advanced && !mode.advanced)
      return {
        ok: false,
        response: errors.unsupportedQuery(
          req,
          "Operator 'ne' or 'not' or 'endsWith' requires advanced query parameters.",
        ),
      };
    return { ok: true, node };
  } catch (e) {
    if (e instanceof FilterError) return { ok: false, response: errors.badRequest(req, e.message) };
    throw e;
  }
}

/**
 * Parses `$search`: without `ConsistencyLevel: eventual` Graph refuses it with the message
 * aad-advanced-queries.md shows.
 */
export function compileSearch(
  req: EmuRequest,
  entities: EntityName[],
  text: string | null,
  mode: QueryMode,
): Compiled<SearchNode> {
  if (text === null) return { ok: true, node: null };
  if (!mode.eventual)
    return {
      ok: false,
      response: errors.unsupportedQuery(
        req,
        "Request with $search query parameter only works through MSGraph with a special request header: 'ConsistencyLevel: eventual'",
      ),
    };
  try {
    return { ok: true, node: parseSearch(text, entities) };
  } catch (e) {
    if (e instanceof SearchError) return { ok: false, response: errors.badRequest(req, e.message) };
    throw e;
  }
}

/** One predicate for `$filter` and `$search` together. */
export function objectTest(
  filter: FilterNode | null,
  search: SearchNode | null,
): (o: StoredObject) => boolean {
  const get = (o: StoredObject) => (p: string) => (p === 'id' ? o.id : o.data[p]);
  if (!filter && !search) return () => true;
  return (o) => (!filter || matches(filter, get(o))) && (!search || matchesSearch(search, get(o)));
}

/** Properties each entity sorts on by default (the docs' "Supports $orderby" notes). */
const ORDERABLE: Record<EntityName, string[]> = {
  user: ['displayName', 'userPrincipalName'],
  group: ['displayName'],
  servicePrincipal: ['displayName'],
  directoryRole: [],
  orgContact: ['displayName'],
  device: ['displayName'],
};

export type Compare = (a: StoredObject, b: StoredObject) => number;

/**
 * `$orderby=prop [asc|desc]`. Sorting on other properties, or together with `$filter`, is an advanced
 * query: it needs `ConsistencyLevel: eventual` and `$count=true` (aad-advanced-queries.md).
 */
export function parseOrder(
  req: EmuRequest,
  entity: EntityName,
  text: string,
  filtered: boolean,
  { advanced }: QueryMode,
): Compare | EmuResponse {
  const m = /^\s*([A-Za-z0-9_]+)(?:\s+(asc|desc))?\s*$/i.exec(text);
  const property = m ? entityInfo(entity).properties.get(m[1]!) : undefined;
  if (
    !m ||
    !property ||
    property.kind !== 'structural' ||
    property.isCollection ||
    (!ORDERABLE[entity].includes(property.name) && !advanced) ||
    (filtered && !advanced)
  )
    return errors.unsupportedQuery(req, 'Sorting not supported for current query.');
  const prop = property.name;
  const sign = m[2]?.toLowerCase() === 'desc' ? -1 : 1;
  const key = (o: StoredObject) => {
    const v = o.data[prop];
    return typeof v === 'string' ? v.toLowerCase() : v === undefined || v === null ? '' : JSON.stringify(v);
  };
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -sign : x > y ? sign : a.id < b.id ? -1 : 1;
  };
}
