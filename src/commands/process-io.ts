import { formatError, ToolError, EXIT } from '../errors.js';
import { redact } from '../redact.js';
import type { Logger } from '../types.js';

/** Options every command shares. */
export interface CommonOptions {
  verbose?: boolean;
  quiet?: boolean;
}

/** A logger on stderr: info unless --quiet, verbose only with --verbose, always redacted. */
export function stderrLogger(options: CommonOptions, stream: NodeJS.WritableStream = process.stderr): Logger {
  const write = (line: string) => stream.write(`${redact(line)}\n`);
  return {
    info: (m) => {
      if (!options.quiet) write(m);
    },
    warn: (m) => write(`entra: warning: ${m}`),
    verbose: (m) => {
      if (options.verbose) write(m);
    },
  };
}

/** The last line of every usage error: `Run 'entra export --help' for usage.` */
export function usageHint(help: string): string {
  return `Run '${help}' for usage.\n`;
}

/**
 * A mistake in the command line itself (ERR_USAGE), which the command's --help can help with;
 * not a bad settings, mapping or input file (ERR_SETTINGS, ERR_CSV...), whose message says where.
 */
export function isUsageMistake(error: unknown): boolean {
  return error instanceof ToolError && error.code === 'ERR_USAGE';
}

/**
 * Runs a command body the way every verb ends: the exit code it returns, or for an error one line
 * `entra: CODE: message` (plus context lines, and a stack with --verbose) on stderr; a usage
 * mistake (ERR_USAGE) then gets `Run '<help>' for usage.`, as yargs' own usage errors do.
 */
export async function runCommand(
  body: () => Promise<number | void>,
  options: CommonOptions,
  help?: string,
): Promise<void> {
  // `| head` closing our stdout is a normal end, not an error (ndjson-cli, d3-dsv).
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exitCode = process.exitCode ?? EXIT.ok;
  });
  // Nor is a closed stderr (`2>&1 | head`): the messages have nowhere to go, and the exit code must
  // stay the one the run earned, as on a terminal. Unhandled, the EPIPE would end the process with 1.
  process.stderr.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error;
  });
  // Ctrl-C or SIGTERM where the command does not listen for them (doctor, skus, the start of every
  // command) ends it as an interrupted run, exit 130 (DESIGN.md §4), not by the signal (143 for
  // SIGTERM). Where the command listens (export, fulfill, emulate), its own handler decides.
  const onSignal = (signal: NodeJS.Signals) => {
    if (process.listenerCount(signal) > 1) return;
    process.stderr.write(`entra: ERR_INTERRUPTED: interrupted (${signal})\n`);
    process.exit(EXIT.interrupted);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const code = await body();
    process.exitCode = code ?? EXIT.ok;
  } catch (error) {
    for (const line of formatError(error)) process.stderr.write(`${redact(line)}\n`);
    // A mistake in the command line ends as yargs' own usage errors do: with where the help is.
    if (help && isUsageMistake(error)) process.stderr.write(usageHint(help));
    if (options.verbose || !(error instanceof ToolError)) {
      const stack = error instanceof Error ? error.stack : undefined;
      if (stack && options.verbose) process.stderr.write(`${redact(stack)}\n`);
    }
    process.exitCode = error instanceof ToolError ? error.exitCode : EXIT.failure;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
