import { entityInfo, type EntityName } from '../graph/schema.js';
import { errors } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { memberOf } from './member-of.js';
import { renderObject, resolveSelect } from './render.js';
import type { DirectoryStore, StoredObject } from './store.js';

/** Navigations `$expand` follows, per type (the relationships of each resource page). */
const EXPANDABLE: Partial<Record<EntityName, string[]>> = {
  user: ['manager', 'directReports', 'memberOf'],
  group: ['members', 'owners', 'memberOf'],
  directoryRole: ['members'],
  servicePrincipal: ['memberOf'],
};

/** Graph expands at most 20 related directory objects (query-parameters.md, "expand parameter"). */
const MAX_EXPANDED = 20;

export interface Expansion {
  nav: string;
  select: string | null;
}

/** Parses `$expand=members` or `members($select=id,displayName)`; one navigation, as the directory allows. */
export function parseExpand(
  req: EmuRequest,
  entity: EntityName,
  text: string | null,
): Expansion[] | EmuResponse {
  if (text === null) return [];
  const m = /^\s*([A-Za-z]+)\s*(?:\(\s*\$select\s*=\s*([^)]*)\))?\s*$/.exec(text);
  const nav = m ? (EXPANDABLE[entity] ?? []).find((n) => n.toLowerCase() === m[1]!.toLowerCase()) : undefined;
  if (!m || !nav)
    return errors.badRequest(
      req,
      `Could not find a navigation property named '${text.trim()}' on type 'microsoft.graph.${entity}' that can be expanded.`,
    );
  return [{ nav, select: m[2] ?? null }];
}

function related(store: DirectoryStore, owner: StoredObject, nav: string): StoredObject[] {
  if (nav === 'memberOf') return [...memberOf(store, owner)].map(([, o]) => o);
  if (nav === 'directReports') {
    const reports: StoredObject[] = [];
    for (const u of store.entityStore('user').live()) if (u.links?.manager?.has(owner.id)) reports.push(u);
    return reports;
  }
  return [...store.linked(owner, nav)];
}

/** Adds the expanded navigations to a rendered object: a collection, or `manager` as one object (or null). */
export function expandInto(
  body: Record<string, unknown>,
  owner: StoredObject,
  expansions: Expansion[],
  store: DirectoryStore,
): Record<string, unknown> {
  for (const { nav, select } of expansions) {
    const render = (o: StoredObject) => {
      const r = resolveSelect(o.entity, select, false);
      return renderObject(o, r.ok ? r.selection.props : ['id'], { nulls: true, odataType: true });
    };
    const items = related(store, owner, nav);
    if (nav === 'manager') body.manager = items[0] ? render(items[0]) : null;
    else body[nav] = items.slice(0, MAX_EXPANDED).map(render);
  }
  return body;
}

/** True when `nav` is a relationship Graph lists for the type (used to tell a 400 from a 404). */
export function isRelationship(entity: EntityName, nav: string): boolean {
  const p = entityInfo(entity).properties.get(nav);
  return p?.kind === 'navigation';
}
