/**
 * "Did you mean" for names a user typed: options, commands, entities, attributes (git's `help.c`
 * idea, with an edit distance instead of its weights).
 */

/**
 * Edit distance counting insertions, deletions, substitutions and swaps of two neighbours
 * (optimal string alignment), so `displayNme` is 1 from `displayName` and `exprot` 1 from `export`.
 */
export function editDistance(a: string, b: string): number {
  const rows: number[][] = [];
  for (let i = 0; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      if (i === 0) {
        row.push(j);
        continue;
      }
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(rows[i - 1]![j]! + 1, row[j - 1]! + 1, rows[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1])
        d = Math.min(d, rows[i - 2]![j - 2]! + 1);
      row.push(d);
    }
    rows.push(row);
  }
  return rows[a.length]![b.length]!;
}

/**
 * The candidate `input` most likely meant, or undefined when none is close: the same name in
 * another case, else the nearest within a third of its length (at least 1, at most 3 edits), else
 * the only candidate that `input` (3 characters or more) begins.
 * @example closest('displayNme', ['displayName', 'mail']) // 'displayName'
 */
export function closest(input: string, candidates: Iterable<string>): string | undefined {
  const list = [...candidates];
  const lower = input.toLowerCase();
  const same = list.find((c) => c.toLowerCase() === lower);
  if (same !== undefined) return same;
  const limit = Math.min(3, Math.max(1, Math.floor(input.length / 3)));
  let best: string | undefined;
  let bestDistance = limit + 1;
  for (const c of list) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) [best, bestDistance] = [c, d];
  }
  if (best !== undefined) return best;
  const prefixed = input.length >= 3 ? list.filter((c) => c.toLowerCase().startsWith(lower)) : [];
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

/** ` (did you mean 'x'?)`, or '' when nothing is close; `quote` wraps the suggestion. */
export function didYouMean(
  input: string,
  candidates: Iterable<string>,
  quote: (s: string) => string = (s) => `'${s}'`,
): string {
  const hint = closest(input, candidates);
  return hint === undefined ? '' : ` (did you mean ${quote(hint)}?)`;
}
