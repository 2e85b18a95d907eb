import { Writable } from 'node:stream';
import { EXIT, formatError, ToolError, UsageError } from '../errors.js';
import { usageHint } from './process-io.js';
import { redact } from '../redact.js';
import type { SettingsLayer } from '../settings/settings.js';
import type { ProgressStream } from './progress.js';

/**
 * Several connections in one process (`--connection A --connection B`, `--all`): each runs the
 * one-connection command of its own (its own lock, token, client, write budget, cookies, output and
 * summary), its stderr lines prefixed with `[Name] `, a bounded number at once. A failure in one
 * does not stop the others; the process ends with the most severe exit code, after one line per
 * connection (`entra: Contoso: exit 0`, `entra: Fabrikam: ERR_AUTH exit 1`).
 */

/** Written in a path option, replaced by each connection's name: `--results 'results/{connection}.csv'`. */
export const PLACEHOLDER = '{connection}';

/** Connections run at once by default (`--jobs`). */
export const DEFAULT_JOBS = 4;

/** Exit codes from the most severe down: the process's code is the first any connection ended with. */
export const SEVERITY = [
  EXIT.interrupted,
  EXIT.failure,
  EXIT.usage,
  EXIT.threshold,
  EXIT.rowsFailed,
  EXIT.ok,
];

/** The options every command that runs several connections takes. */
export interface ManyArgs {
  /** One name, or several when the flag is repeated (yargs makes an array of a repeated flag). */
  connection?: string | string[];
  /** Every connection of the settings. */
  all?: boolean;
  /** Connections run at once. */
  jobs?: number;
  quiet?: boolean;
}

/** Settings already read, handed to each connection's run (read once: vaults are asked once). */
export interface ReadSettings {
  layers: SettingsLayer[];
  file: string;
}

/**
 * The connections asked for on the command line: `undefined` for a one-connection run (one
 * `--connection`, or none), the names for several, `[]` for `--all` (every connection of the settings).
 * Contradictions are usage errors.
 */
export function requestedConnections(args: ManyArgs): string[] | undefined {
  const names =
    args.connection === undefined ? [] : Array.isArray(args.connection) ? args.connection : [args.connection];
  if (names.some((n) => typeof n !== 'string' || n === ''))
    throw new UsageError('ERR_USAGE', '--connection needs a connection name');
  if (args.jobs !== undefined && !(Number.isInteger(args.jobs) && args.jobs >= 1 && args.jobs <= 64))
    throw new UsageError('ERR_USAGE', `--jobs must be an integer from 1 to 64, got ${args.jobs}`);
  if (args.all && names.length)
    throw new UsageError(
      'ERR_USAGE',
      '--all runs every connection of the settings: give --all or --connection, not both',
    );
  if (args.all) return [];
  if (names.length <= 1) return undefined;
  const seen = new Set<string>();
  for (const name of names) {
    if (seen.has(name.toLowerCase()))
      throw new UsageError('ERR_USAGE', `--connection ${name} is given twice`);
    seen.add(name.toLowerCase());
  }
  return names;
}

/** The connection names of the settings, as first spelled, in the order they appear. */
export function connectionNames(layers: SettingsLayer[]): string[] {
  const names = new Map<string, string>();
  for (const layer of layers)
    for (const key of layer.values.keys()) {
      if (!key.toLowerCase().startsWith('connections:')) continue;
      const end = key.indexOf(':', 12);
      const name = key.slice(12, end < 0 ? undefined : end);
      if (name && !names.has(name.toLowerCase())) names.set(name.toLowerCase(), name);
    }
  return [...names.values()];
}

/**
 * The connections to run: `requested` (`[]` for all) checked against the settings and spelled as
 * there. An unknown name is a usage error before any connection starts.
 */
export function pickConnections(requested: string[], settings: ReadSettings): string[] {
  const known = connectionNames(settings.layers);
  const where = settings.layers.map((l) => l.origin).join(', ');
  if (!known.length)
    throw new UsageError(
      'ERR_SETTINGS',
      `no connection in ${where}: add a "Connections": { "<Name>": { ... } } section`,
    );
  if (!requested.length) return known;
  return requested.map((name) => {
    const found = known.find((k) => k.toLowerCase() === name.toLowerCase());
    if (!found)
      throw new UsageError(
        'ERR_SETTINGS',
        `no connection '${name}' in ${where} (available: ${known.join(', ')})`,
      );
    return found;
  });
}

/** `path` with {@link PLACEHOLDER} replaced by `name` (undefined stays undefined). */
export function forConnection<T extends string | undefined>(path: T, name: string): T {
  return (path === undefined ? path : path.replaceAll(PLACEHOLDER, name)) as T;
}

/** True when a path option holds {@link PLACEHOLDER}. */
export function hasPlaceholder(path: string | undefined): boolean {
  return path !== undefined && path.includes(PLACEHOLDER);
}

/**
 * A stream that writes each line it is given to `target` as `<prefix><line>`. Partial lines wait for
 * their end (or the stream's); it is no TTY, so progress comes as plain lines, and only with --progress.
 */
export class LinePrefixer extends Writable implements ProgressStream {
  readonly isTTY = false;
  private pending = '';

  constructor(
    private readonly target: NodeJS.WritableStream,
    private readonly prefix: string,
  ) {
    super({ decodeStrings: false });
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: () => void): void {
    const text = this.pending + chunk.toString();
    const end = text.lastIndexOf('\n');
    this.pending = text.slice(end + 1);
    if (end >= 0)
      this.target.write(
        text
          .slice(0, end)
          .split('\n')
          .map((line) => `${this.prefix}${line}\n`)
          .join(''),
      );
    callback();
  }

  /** Writes a line that did not end with a newline. */
  flushPending(): void {
    if (this.pending) this.target.write(`${this.prefix}${this.pending}\n`);
    this.pending = '';
  }

  override _final(callback: () => void): void {
    this.flushPending();
    callback();
  }
}

/** How one connection ended. */
export interface ConnectionOutcome {
  name: string;
  code: number;
  /** The error code when it failed with an error (not for exit 3, rows failed). */
  error?: string;
}

/** The process's exit code: the most severe of the connections' ({@link SEVERITY}). */
export function worstExitCode(codes: number[]): number {
  for (const code of SEVERITY) if (codes.includes(code)) return code;
  return codes.find((c) => c !== EXIT.ok) ?? EXIT.ok;
}

/**
 * Runs `run` once per connection, `jobs` at once, each with a stderr of its own (lines prefixed
 * `[Name] `); an error ends that connection only, printed as `[Name] entra: CODE: message`. Ctrl-C
 * starts no more connections (those left end with exit 130, not started); the running ones stop as
 * a one-connection run does. Then one line per connection: failures always, `exit 0` unless --quiet.
 */
export async function runConnections(options: {
  names: string[];
  jobs?: number;
  stderr: NodeJS.WritableStream;
  quiet?: boolean;
  /** The command's help (`entra export --help`), named once at the end when a connection's command line was wrong. */
  help?: string;
  run: (name: string, stderr: LinePrefixer) => Promise<number>;
}): Promise<number> {
  const { names, stderr } = options;
  const outcomes: ConnectionOutcome[] = names.map((name) => ({ name, code: EXIT.interrupted }));
  let stopping = false;
  const onSignal = () => {
    // Once: a second Ctrl-C then meets the runs' own handlers (or none), as in a one-connection run.
    stopping = true;
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  // Each running connection listens for Ctrl-C too: no "possible EventEmitter leak" warning past 10.
  const listeners = process.getMaxListeners();
  const jobs = Math.min(options.jobs ?? DEFAULT_JOBS, names.length);
  if (listeners !== 0) process.setMaxListeners(Math.max(listeners, 10 + 2 * jobs));
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  let next = 0;
  const worker = async () => {
    while (!stopping && next < names.length) {
      const i = next++;
      const name = names[i]!;
      const stream = new LinePrefixer(stderr, `[${name}] `);
      const outcome = outcomes[i]!;
      try {
        outcome.code = await options.run(name, stream);
        delete outcome.error;
      } catch (error) {
        stream.flushPending();
        for (const line of formatError(error)) stream.write(`${redact(line)}\n`);
        outcome.code = error instanceof ToolError ? error.exitCode : EXIT.failure;
        outcome.error = error instanceof ToolError ? error.code : 'ERR_INTERNAL';
      }
      stream.flushPending();
    }
  };
  try {
    await Promise.all(Array.from({ length: jobs }, () => worker()));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.setMaxListeners(listeners);
  }
  for (const [i, o] of outcomes.entries()) {
    const notStarted = i >= next;
    if (o.code === EXIT.ok && options.quiet) continue;
    const what = notStarted
      ? 'ERR_INTERRUPTED not started, exit 130'
      : `${o.error ? `${o.error} ` : ''}exit ${o.code}`;
    stderr.write(`entra: ${o.name}: ${what}\n`);
  }
  if (options.help && outcomes.some((o) => o.error === 'ERR_USAGE')) stderr.write(usageHint(options.help));
  return worstExitCode(outcomes.map((o) => o.code));
}
