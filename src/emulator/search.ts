import type { EntityName } from '../graph/schema.js';

/**
 * `$search` on directory objects (search-query-parameter.md, aad-advanced-queries.md): clauses
 * `"property:text"` joined by AND or OR (AND binds tighter), each matched by tokenized search: the
 * property's value is split at spaces, symbols and case changes, and every token of the searched
 * text must begin some token of the value. It needs `ConsistencyLevel: eventual`.
 */
export type SearchNode =
  { kind: 'term'; property: string; tokens: string[] } | { kind: 'and' | 'or'; items: SearchNode[] };

/** Properties that support `$search`, per type (search-query-parameter.md, "Using $search on directory object collections"). */
const SEARCHABLE: Partial<Record<EntityName, string[]>> = {
  user: [
    'displayName',
    'givenName',
    'surname',
    'mail',
    'mailNickname',
    'userPrincipalName',
    'jobTitle',
    'department',
    'employeeId',
  ],
  group: ['displayName', 'description', 'mail', 'mailNickname'],
  servicePrincipal: ['displayName', 'description', 'appDisplayName'],
  orgContact: ['displayName', 'givenName', 'surname', 'mail', 'mailNickname'],
  device: ['displayName'],
  directoryRole: ['displayName', 'description'],
};

export class SearchError extends Error {}

/** Splits text into search tokens: at non-alphanumerics and where lower case turns upper (`ContosoOps` → contoso, ops). */
export function searchTokens(text: string): string[] {
  return text
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .split(/[^\p{L}\p{N}]+/u)
    .filter(Boolean);
}

/** Parses a `$search` value; throws SearchError with Graph's message for one it cannot read. */
export function parseSearch(text: string, entities: EntityName[]): SearchNode {
  const clauses = text.split(/\s+(AND|OR)\s+/);
  const or: SearchNode[] = [];
  let and: SearchNode[] = [];
  for (let i = 0; i < clauses.length; i += 2) {
    const m = /^\s*"([A-Za-z0-9_]+):([^"]*)"\s*$/.exec(clauses[i]!);
    if (!m)
      throw new SearchError(`Syntax error: '${text}' is not a valid $search value: use "property:text".`);
    const [, property, value] = m;
    if (!entities.some((e) => SEARCHABLE[e]?.includes(property!)))
      throw new SearchError(`Unsupported property '${property}' in $search.`);
    and.push({ kind: 'term', property: property!, tokens: searchTokens(value!) });
    if (clauses[i + 1] !== 'AND') {
      or.push(and.length === 1 ? and[0]! : { kind: 'and', items: and });
      and = [];
    }
  }
  return or.length === 1 ? or[0]! : { kind: 'or', items: or };
}

/** Whether an object (its properties through `get`) matches a parsed `$search`. */
export function matchesSearch(node: SearchNode, get: (property: string) => unknown): boolean {
  if (node.kind === 'and') return node.items.every((n) => matchesSearch(n, get));
  if (node.kind === 'or') return node.items.some((n) => matchesSearch(n, get));
  if (node.kind !== 'term') return false;
  const value = get(node.property);
  if (typeof value !== 'string') return false;
  const have = searchTokens(value);
  return node.tokens.every((t) => have.some((h) => h.startsWith(t)));
}
