/**
 * Response header names as Microsoft Graph and the identity platform spell them. HTTP/1.1 names are
 * case-insensitive, but clients meet them case-sensitively in two places: a `$batch` item's `headers`
 * object is plain JSON (the Graph JavaScript SDK reads `headers["Content-Type"]`), and two spellings of
 * one name on the wire are two headers, which fetch joins into one unusable value. Names not listed here
 * keep the lower case Graph uses for its own (`request-id`, `x-ms-resource-unit`, ...).
 * Sources: json-batching.md response example; throttling.md; the docs' HTTP examples.
 */
const CANONICAL = new Map(
  [
    'Allow',
    'Cache-Control',
    'Content-Length',
    'Content-Type',
    'Expires',
    'Location',
    'OData-Version',
    'Pragma',
    'Preference-Applied',
    'Retry-After',
    'Strict-Transport-Security',
    'WWW-Authenticate',
  ].map((name) => [name.toLowerCase(), name]),
);

/** The spelling Graph uses for a header name. */
export function canonicalHeaderName(name: string): string {
  const lower = name.toLowerCase();
  return CANONICAL.get(lower) ?? lower;
}

/**
 * Merges header sets into one, with one value per name whatever the spelling: a later set wins over an
 * earlier one. Keys come out in Graph's spelling.
 * @example mergeHeaders({ 'content-type': 'text/plain' }, { 'Content-Type': 'application/json' })
 * // → { 'Content-Type': 'application/json' }
 */
export function mergeHeaders(...sets: (Record<string, string> | undefined)[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const set of sets)
    for (const [name, value] of Object.entries(set ?? {})) out[canonicalHeaderName(name)] = value;
  return out;
}

/** A header's value from a set with names in any spelling. */
export function headerOf(headers: Record<string, string> | undefined, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === lower) return v;
  return undefined;
}
