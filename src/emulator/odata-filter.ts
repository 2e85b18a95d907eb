import type { EntityName } from '../graph/schema.js';

/**
 * A small `$filter` parser and evaluator covering what the directory supports by default: `eq`,
 * `startswith`, `in`, `and`, `or` and parentheses on indexed properties. `ne`, `not` and `endswith`
 * are "advanced queries": Graph accepts them only with `ConsistencyLevel: eventual` and `$count=true`
 * (aad-advanced-queries.md).
 */
export type FilterNode =
  | { op: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { op: 'not'; expr: FilterNode }
  | { op: 'eq' | 'ne'; prop: string; value: Literal }
  | { op: 'in'; prop: string; values: Literal[] }
  | { op: 'startswith' | 'endswith'; prop: string; value: string };

type Literal = string | number | boolean | null;

/** Properties `$filter` accepts per entity without advanced query parameters (the docs' "Supports $filter" notes). */
export const FILTERABLE: Record<EntityName, string[]> = {
  user: [
    'id',
    'accountEnabled',
    'city',
    'companyName',
    'country',
    'department',
    'displayName',
    'employeeId',
    'employeeType',
    'givenName',
    'jobTitle',
    'mail',
    'mailNickname',
    'onPremisesImmutableId',
    'onPremisesSyncEnabled',
    'state',
    'surname',
    'userPrincipalName',
    'userType',
  ],
  group: [
    'id',
    'classification',
    'displayName',
    'mail',
    'mailEnabled',
    'mailNickname',
    'onPremisesSyncEnabled',
    'securityEnabled',
    'visibility',
  ],
  servicePrincipal: ['id', 'accountEnabled', 'appId', 'displayName', 'servicePrincipalType'],
  directoryRole: ['id', 'displayName', 'roleTemplateId'],
  orgContact: ['id', 'displayName', 'givenName', 'mail', 'mailNickname', 'surname'],
  device: ['id', 'accountEnabled', 'deviceId', 'displayName', 'operatingSystem', 'trustType'],
};

export class FilterError extends Error {}

/** Parses a `$filter` expression; throws FilterError with Graph's wording on anything else. */
export function parseFilter(text: string): FilterNode {
  const tokens = tokenize(text);
  let i = 0;
  const peek = () => tokens[i];
  const take = () => tokens[i++];
  const expect = (t: string) => {
    if (take()?.toLowerCase() !== t) throw new FilterError(`Invalid filter clause: expected '${t}'.`);
  };

  function primary(): FilterNode {
    const t = take();
    if (t === undefined) throw new FilterError('Invalid filter clause: unexpected end.');
    if (t === '(') {
      const e = or();
      expect(')');
      return e;
    }
    const lower = t.toLowerCase();
    if (lower === 'not') return { op: 'not', expr: primary() };
    if (lower === 'startswith' || lower === 'endswith') {
      expect('(');
      const prop = take()!;
      expect(',');
      const value = literal(take());
      expect(')');
      if (typeof value !== 'string') throw new FilterError(`Invalid filter clause: ${lower} needs a string.`);
      return { op: lower, prop, value };
    }
    const op = take()?.toLowerCase();
    if (op === 'eq' || op === 'ne') return { op, prop: t, value: literal(take()) };
    if (op === 'in') {
      expect('(');
      const values: Literal[] = [literal(take())];
      while (peek() === ',') {
        take();
        values.push(literal(take()));
      }
      expect(')');
      return { op: 'in', prop: t, values };
    }
    throw new FilterError(`Invalid filter clause: unsupported operator '${op ?? ''}'.`);
  }
  function and(): FilterNode {
    let left = primary();
    while (peek()?.toLowerCase() === 'and') {
      take();
      left = { op: 'and', left, right: primary() };
    }
    return left;
  }
  function or(): FilterNode {
    let left = and();
    while (peek()?.toLowerCase() === 'or') {
      take();
      left = { op: 'or', left, right: and() };
    }
    return left;
  }
  const node = or();
  if (i !== tokens.length) throw new FilterError(`Invalid filter clause: unexpected '${tokens[i]}'.`);
  return node;
}

function tokenize(text: string): string[] {
  const tokens: string[] = [];
  const re = /\s*('(?:[^']|'')*'|[(),]|[^\s(),']+)/gy;
  let m: RegExpExecArray | null;
  let end = 0;
  while ((m = re.exec(text))) {
    tokens.push(m[1]!);
    end = re.lastIndex;
  }
  if (text.slice(end).trim()) throw new FilterError('Invalid filter clause: syntax error.');
  return tokens;
}

function literal(t: string | undefined): Literal {
  if (t === undefined) throw new FilterError('Invalid filter clause: missing value.');
  if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  if (t === 'true' || t === 'false') return t === 'true';
  if (t === 'null') return null;
  if (/^-?\d+(\.\d+)?$/.test(t)) return Number(t);
  throw new FilterError(`Invalid filter clause: bad literal '${t}'.`);
}

/** Property names the filter reads, and whether it needs advanced query parameters. */
export function filterShape(node: FilterNode): { props: string[]; advanced: boolean } {
  const props: string[] = [];
  let advanced = false;
  const walk = (n: FilterNode): void => {
    if (n.op === 'and' || n.op === 'or') {
      walk(n.left);
      walk(n.right);
    } else if (n.op === 'not') {
      advanced = true;
      walk(n.expr);
    } else if ('prop' in n) {
      if (n.op === 'ne' || n.op === 'endswith') advanced = true;
      props.push(n.prop);
    }
  };
  walk(node);
  return { props, advanced };
}

/** Evaluates a filter against an object's properties; string comparisons ignore case, as in the directory. */
export function matches(node: FilterNode, get: (prop: string) => unknown): boolean {
  switch (node.op) {
    case 'and':
      return matches(node.left, get) && matches(node.right, get);
    case 'or':
      return matches(node.left, get) || matches(node.right, get);
    case 'not':
      return !matches(node.expr, get);
    case 'eq':
      return same(get(node.prop), node.value);
    case 'ne':
      return !same(get(node.prop), node.value);
    case 'in':
      return node.values.some((v) => same(get(node.prop), v));
    case 'startswith': {
      const v = get(node.prop);
      return typeof v === 'string' && startsWithIgnoringCase(v, node.value);
    }
    case 'endswith': {
      const v = get(node.prop);
      return typeof v === 'string' && v.toLowerCase().endsWith(node.value.toLowerCase());
    }
  }
}

const lowered = new Map<string, string>();

/** `v.toLowerCase().startsWith(prefix.toLowerCase())`, without a copy of `v` when both are ASCII (the bulk-read path). */
function startsWithIgnoringCase(v: string, prefix: string): boolean {
  let want = lowered.get(prefix);
  if (want === undefined) {
    if (lowered.size > 10_000) lowered.clear();
    lowered.set(prefix, (want = prefix.toLowerCase()));
  }
  const n = want.length;
  if (v.length < n) return v.toLowerCase().startsWith(want);
  for (let i = 0; i < n; i++) {
    let c = v.charCodeAt(i);
    const w = want.charCodeAt(i);
    if (c >= 128 || w >= 128) return v.toLowerCase().startsWith(want);
    if (c >= 65 && c <= 90) c += 32;
    if (c !== w) return false;
  }
  return true;
}

function same(actual: unknown, expected: Literal): boolean {
  if (expected === null) return actual === null || actual === undefined;
  if (typeof actual === 'string' && typeof expected === 'string')
    return actual.toLowerCase() === expected.toLowerCase();
  return actual === expected;
}
