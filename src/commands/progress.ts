import { redact } from '../redact.js';

/** Where progress goes: stderr, or a test's stream. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** What a run has done so far, as its progress line shows it. */
export interface ProgressState {
  /** Objects read (export) or rows answered (fulfill). */
  done: number;
  /** How many there will be, when known: then the line shows a percentage and an ETA. */
  total?: number;
  /** `objects`, `rows` */
  unit: string;
  /**
   * The pace the run is held to, per second, when something else than its own speed sets it (the
   * write budget): the ETA is reckoned with it instead of the measured rate.
   */
  paceRate?: number;
  /** Why the run is slow, when it is waiting on something (the write budget). */
  note?: string;
  /** Further parts, most useful first: on a narrow terminal the last ones go first. */
  details: string[];
}

/** `45s`, `12m 40s`, `2h 05m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * Joins `segments` with `; `, dropping the last ones until the line fits in `width` characters; a first
 * segment wider than that is cut, ending in `…`. No width: everything.
 */
export function fitSegments(segments: readonly string[], width?: number): string {
  const parts = segments.filter((s) => s !== '');
  if (width === undefined || width <= 0) return parts.join('; ');
  let line = parts.join('; ');
  while (line.length > width && parts.length > 1) {
    parts.pop();
    line = parts.join('; ');
  }
  return line.length > width ? `${line.slice(0, Math.max(0, width - 1))}…` : line;
}

/**
 * The progress line: `entra fulfill: 2,400/20,000 rows (12%); waiting on Graph's write budget (1,200
 * writes/min), ETA 14m 40s; 20 rows/s; <details>`. The percentage and ETA only when the total is known
 * and not yet reached (an export's total is Graph's count, which may be a little off).
 * @param rate measured pace, per second (undefined before there is one)
 * @param width the terminal's width: the line is cut to it
 */
export function formatProgress(
  label: string,
  state: ProgressState,
  rate: number | undefined,
  width?: number,
): string {
  const { done, total, unit } = state;
  const known = total !== undefined && total > done;
  const head = known
    ? `${label}: ${count(done)}/${count(total)} ${unit} (${Math.floor((done * 100) / total)}%)`
    : `${label}: ${count(done)} ${unit}`;
  const pace = state.paceRate ?? rate;
  const eta = known && pace !== undefined && pace > 0 ? `ETA ${formatDuration((total - done) / pace)}` : '';
  const status = [state.note ?? '', eta].filter(Boolean).join(', ');
  const speed = rate === undefined ? '' : `${count(Math.round(rate))} ${unit}/s`;
  // One cell short of the width: writing the last column makes some terminals wrap.
  return fitSegments([head, status, speed, ...state.details], width === undefined ? undefined : width - 1);
}

/**
 * The recent pace of a run: done per second over the last `windowMs` (30 s), so that an ETA follows
 * what the run does now (a fulfill's first writes go fast, then the write budget sets the pace).
 */
export class RateMeter {
  private readonly samples: { t: number; done: number }[] = [];

  constructor(private readonly windowMs = 30_000) {}

  /** Records `done` at time `t` (ms) and returns the pace, per second, or undefined before 1 s has passed. */
  sample(t: number, done: number): number | undefined {
    this.samples.push({ t, done });
    // Keep one sample at or before the window's start, so the span covers the whole window.
    while (this.samples.length > 2 && this.samples[1]!.t <= t - this.windowMs) this.samples.shift();
    const first = this.samples[0]!;
    const span = t - first.t;
    return span < 1000 ? undefined : ((done - first.done) * 1000) / span;
  }
}

/**
 * Progress on stderr for long runs: on a TTY one line rewritten in place a few times a second, cut to
 * the terminal's width; otherwise a plain log line every `intervalMs` (10 s). Nothing unless `enabled`
 * (the caller decides: a TTY or --progress, and not --quiet).
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastLine = '';
  private readonly meter = new RateMeter();
  private readonly now: () => number;
  private readonly started: number;

  constructor(
    private readonly label: string,
    private readonly state: (now: number) => ProgressState,
    private readonly options: {
      enabled?: boolean;
      /** Same as `enabled: false`. */
      quiet?: boolean;
      /** Rewrite one line in place (default: whether the stream is a TTY). */
      tty?: boolean;
      intervalMs?: number;
      stream?: ProgressStream;
      /** The clock, in ms (default `performance.now`); tests pass their own. */
      now?: () => number;
    } = {},
  ) {
    this.now = options.now ?? (() => performance.now());
    this.started = this.now();
  }

  private get stream(): ProgressStream {
    return this.options.stream ?? process.stderr;
  }

  private get tty(): boolean {
    return this.options.tty ?? this.stream.isTTY === true;
  }

  start(): void {
    if (this.options.enabled === false || this.options.quiet || this.timer) return;
    this.timer = setInterval(() => this.tick(), this.tty ? 250 : (this.options.intervalMs ?? 10_000));
    this.timer.unref();
  }

  /** The line as it stands now (and one more sample for the pace). */
  line(): string {
    const now = this.now();
    const state = this.state(now);
    const measured = this.meter.sample(now, state.done);
    const elapsed = (now - this.started) / 1000;
    // Before the meter has a span, the pace since the start (none in the first second).
    const rate = measured ?? (elapsed >= 1 ? state.done / elapsed : undefined);
    const width = this.tty ? this.stream.columns : undefined;
    return redact(formatProgress(this.label, state, rate, width));
  }

  /** Writes the line: in place on a TTY, as a log line otherwise. */
  tick(): void {
    const line = this.line();
    if (this.tty) {
      this.stream.write(`\r\x1b[K${line}`);
      this.lastLine = line;
    } else this.stream.write(`${line}\n`);
  }

  /** Stops and clears the in-place line. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    if (this.lastLine) this.stream.write('\r\x1b[K');
    this.lastLine = '';
  }
}
