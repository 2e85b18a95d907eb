import { redact } from '../redact.js';

/**
 * Progress on stderr for long runs: on a TTY one line rewritten in place a few times a second;
 * otherwise a plain log line every `intervalMs`. Silent with --quiet.
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private lastLine = '';
  private readonly started = performance.now();

  constructor(
    private readonly render: (elapsedS: number) => string,
    private readonly options: {
      quiet?: boolean;
      tty?: boolean;
      intervalMs?: number;
      stream?: NodeJS.WriteStream;
    } = {},
  ) {}

  private get stream(): NodeJS.WriteStream {
    return this.options.stream ?? process.stderr;
  }

  start(): void {
    if (this.options.quiet) return;
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
