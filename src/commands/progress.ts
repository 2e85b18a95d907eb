import { redact } from '../redact.js';

/** Where progress goes: stderr, or a test's stream. */
export type ProgressStream = NodeJS.WritableStream & { isTTY?: boolean };

/**
 * Progress on stderr for long runs: on a TTY one line rewritten in place a few times a second;
 * otherwise a plain log line every `intervalMs`. Nothing unless `enabled` (the caller decides:
 * a TTY or --progress, and not --quiet).
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastLine = '';
  private readonly started = performance.now();

  constructor(
    private readonly render: (elapsedS: number) => string,
    private readonly options: {
      enabled?: boolean;
      /** Same as `enabled: false`. */
      quiet?: boolean;
      /** Rewrite one line in place (default: whether the stream is a TTY). */
      tty?: boolean;
      intervalMs?: number;
      stream?: ProgressStream;
    } = {},
  ) {}

  private get stream(): ProgressStream {
    return this.options.stream ?? process.stderr;
  }

  start(): void {
    if (this.options.enabled === false || this.options.quiet || this.timer) return;
    const tty = this.options.tty ?? this.stream.isTTY === true;
    this.timer = setInterval(() => this.tick(tty), tty ? 250 : (this.options.intervalMs ?? 10_000));
    this.timer.unref();
  }

  private tick(tty: boolean): void {
    const line = redact(this.render((performance.now() - this.started) / 1000));
    if (tty) {
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
