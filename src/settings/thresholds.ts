import { ToolError, UsageError } from '../errors.js';

/**
 * Safety thresholds on delete rows (README, "Thresholds"), like Entra Connect's accidental-deletes
 * protection: a run whose delete rows exceed the limit writes nothing (export) or sends nothing
 * (fulfill), and exits 4.
 *
 * - `N`: at most N delete rows (every table: objects and links);
 * - `P%`: at most P percent of a base: for export the objects of the connection's previous state (its
 *   snapshot), for fulfill the data rows of the input files;
 * - `off`: no limit.
 */
export type DeleteLimit = { count: number } | { percent: number };

/** Entra Connect's default: 500 deletes. */
export const DEFAULT_MAX_DELETES: DeleteLimit = { count: 500 };

/** `500`, `2.5%` or `off` (case and spaces ignored); throws a plain Error saying what is expected. */
export function parseMaxDeletes(text: string): DeleteLimit | null {
  const t = text.trim().toLowerCase();
  if (t === 'off') return null;
  if (/^\d+$/.test(t) && Number.isSafeInteger(Number(t))) return { count: Number(t) };
  const m = /^(\d+(?:\.\d+)?)\s*%$/.exec(t);
  if (m && Number(m[1]) <= 100) return { percent: Number(m[1]) };
  throw new Error(`expected a number of delete rows (500), a percentage (2.5%) or off, got '${text}'`);
}

/** `500` or `2.5%`, as typed. */
export function formatLimit(limit: DeleteLimit): string {
  return 'count' in limit ? String(limit.count) : `${limit.percent}%`;
}

/** The limit a run applies, and where it came from (for messages and the summary). */
export interface Threshold {
  /** null: no limit (`off`, or `--force` this once). */
  limit: DeleteLimit | null;
  /** `--max-deletes`, `Connections:Contoso:ExportMaxDeletes`, or `default`. */
  source: string;
  /** `--force`: the limit is known but not applied this once. */
  forced: boolean;
}

/**
 * The threshold of a run: `--max-deletes` over the settings key over the default of 500; `--force`
 * passes it once. A bad `--max-deletes` is a usage error (exit 2) before anything runs.
 */
export function resolveThreshold(options: {
  flag?: string | undefined;
  setting?: { key: string; value: string } | undefined;
  force?: boolean | undefined;
}): Threshold {
  let limit: DeleteLimit | null = DEFAULT_MAX_DELETES;
  let source = 'default';
  if (options.flag !== undefined) {
    try {
      limit = parseMaxDeletes(options.flag);
    } catch (e) {
      throw new UsageError('ERR_USAGE', `--max-deletes: ${(e as Error).message}`);
    }
    source = '--max-deletes';
  } else if (options.setting) {
    try {
      limit = parseMaxDeletes(options.setting.value);
    } catch (e) {
      throw new UsageError('ERR_SETTINGS', `${options.setting.key}: ${(e as Error).message}`);
    }
    source = options.setting.key;
  }
  const forced = options.force === true && limit !== null;
  return { limit: forced ? null : limit, source, forced };
}

/** The outcome of counting a run's delete rows against its threshold. */
export interface DeleteCheck {
  deletes: number;
  /** Delete rows per table (export) or per input file (fulfill). */
  byPlace: Record<string, number>;
  /** The most delete rows allowed; undefined without a limit. */
  allowed?: number;
  /** The base of a percentage. */
  base?: number;
  exceeded: boolean;
}

/** Counts `deletes` against `threshold`; `base` is what a percentage is of. */
export function checkDeletes(
  threshold: Threshold,
  byPlace: Record<string, number>,
  base: number | undefined,
): DeleteCheck {
  const deletes = Object.values(byPlace).reduce((n, d) => n + d, 0);
  const { limit } = threshold;
  if (!limit) return { deletes, byPlace, exceeded: false };
  const allowed = 'count' in limit ? limit.count : Math.floor(((base ?? 0) * limit.percent) / 100);
  return {
    deletes,
    byPlace,
    allowed,
    ...('percent' in limit ? { base: base ?? 0 } : {}),
    exceeded: deletes > allowed,
  };
}

/** `612 delete rows (Contoso_directoryobjects.csv 600, ...) exceed --max-deletes 500`. */
export function describeExcess(threshold: Threshold, check: DeleteCheck, baseName: string): string {
  const places = Object.entries(check.byPlace)
    .filter(([, n]) => n > 0)
    .map(([p, n]) => `${p} ${n}`)
    .join(', ');
  const limit = threshold.limit!;
  const of =
    'percent' in limit ? ` (${formatLimit(limit)} of ${check.base} ${baseName} = ${check.allowed})` : '';
  const source = threshold.source === 'default' ? 'the default --max-deletes' : threshold.source;
  return `${check.deletes} delete rows${places ? ` (${places})` : ''} exceed ${source} ${formatLimit(limit)}${of}`;
}

/** The error a threshold stops a run with: exit 4. */
export function thresholdError(message: string): ToolError {
  return new ToolError('ERR_THRESHOLD', message);
}
