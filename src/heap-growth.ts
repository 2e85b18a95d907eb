import { setFlagsFromString } from 'node:v8';

/**
 * How far V8 lets its old generation grow past what the last full collection found live, for an
 * export: `1 + percent/100`, i.e. twice the live data. Left alone, V8 picks a factor of up to 4 when
 * the program allocates fast and collects cheaply, which an export does (every page is parsed,
 * turned into rows and dropped): 30-45 MB of live data then peaked at 120-230 MB of heap, and the
 * response buffers that only a full collection frees piled up to 50-70 MB beside it. With 2x, the
 * bench measured 60-70 MB less peak RSS at the same rows/s; 1.3x or 1.5x saved 10-20 MB more for
 * 15-30% more CPU (docs/decisions.md, "The export sets V8's heap growth").
 */
export const EXPORT_HEAP_GROWING_PERCENT = 100;

let applied: string | undefined;

/**
 * Sets {@link EXPORT_HEAP_GROWING_PERCENT} in this process (the CLI's `export`, before it reads
 * anything). A V8 flag that V8 reads at every full collection, so it takes effect when set after
 * start: it works however the CLI was started (`npx entra`, the bin symlink, `npm run dev`), with no
 * `NODE_OPTIONS` and no child process. `set` is injectable for tests.
 * @returns the flag it set
 */
export function tuneHeapForExport(set: (flags: string) => void = setFlagsFromString): string {
  // A user's own setting (NODE_OPTIONS or a node flag) wins.
  const own = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) =>
    /heap[-_]growing[-_]percent/.test(a),
  );
  if (own) return (applied = 'user');
  const flag = `--heap-growing-percent=${EXPORT_HEAP_GROWING_PERCENT}`;
  set(flag);
  return (applied = flag);
}

/** What {@link tuneHeapForExport} did in this process: the flag, `user` (theirs kept), or undefined. */
export function heapTuning(): string | undefined {
  return applied;
}
