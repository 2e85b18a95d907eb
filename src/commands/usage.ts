import { didYouMean } from '../suggest.js';
import { UsageError } from '../errors.js';

/**
 * What the command table (bin/cli.ts) needs beyond yargs: one-line usage errors with suggestions
 * for mistyped flags and commands, number options that quote what was typed, the exit codes of each
 * command for its help, and a help width that never breaks an example in two.
 */

/** The exit codes, as each command's help states them (DESIGN.md §4). */
export const EXIT_CODE_TEXT = {
  0: '0 done',
  1: '1 runtime failure (Graph, network, files)',
  2: '2 usage or settings error, nothing written or sent',
  3: '3 finished, but some rows failed (see the results)',
  4: '4 stopped by a safety threshold, nothing sent',
  130: '130 interrupted (Ctrl-C, SIGTERM)',
} as const;

/** The `Exit codes:` block of a command's help: one line per code it can end with. */
export function exitCodesEpilog(
  codes: (keyof typeof EXIT_CODE_TEXT)[],
  overrides: Partial<Record<keyof typeof EXIT_CODE_TEXT, string>> = {},
): string {
  const lines = codes.map((c) =>
    (overrides[c] ?? EXIT_CODE_TEXT[c]).replace(/^(\d+) /, (n) => `  ${n.padEnd(5)}`),
  );
  return ['Exit codes:', ...lines].join('\n');
}

/** The widest example line; help is never narrower than this plus its indent, so none wraps. */
export const EXAMPLE_MAX = 76;

/** The help width for a terminal of `columns` (undefined when not a terminal). */
export function helpWidth(columns: number | undefined): number {
  return Math.max(EXAMPLE_MAX + 4, Math.min(110, columns || 110));
}

/**
 * A yargs `coerce` for a number option: the value, or a usage error quoting what was typed
 * (`--users expects a number, got 'abc'`) when it is not a number, is missing or is given twice.
 * Ranges are the command's to check.
 */
export function numberOption(option: string, typed: (name: string) => string | undefined) {
  return (value: unknown): number => {
    if (Array.isArray(value)) throw new UsageError('ERR_USAGE', `--${option} is given more than once`);
    if (value === undefined) throw new UsageError('ERR_USAGE', `--${option} needs a number`);
    if (typeof value !== 'number' || Number.isNaN(value))
      throw new UsageError(
        'ERR_USAGE',
        `--${option} expects a number, got '${typed(option) ?? JSON.stringify(value)}'`,
      );
    return value;
  };
}

/** `--parallel auto|N`: `auto`, or an integer (checked for its range with the other export options). */
export function parallelOption(typed: (name: string) => string | undefined) {
  return (value: unknown): number | 'auto' => {
    if (Array.isArray(value)) throw new UsageError('ERR_USAGE', '--parallel is given more than once');
    const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value.trim() : '';
    if (text.toLowerCase() === 'auto') return 'auto';
    if (!/^\d+$/.test(text))
      throw new UsageError(
        'ERR_USAGE',
        `--parallel expects auto or a number of requests in flight, got '${typed('parallel') ?? text}'`,
      );
    return Number(text);
  };
}

/** The text typed after `--name` (or in `--name=text`) in `args`, for messages. */
export function typedValue(args: string[], name: string): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === `--${name}`) return args[i + 1];
    if (arg.startsWith(`--${name}=`)) return arg.slice(name.length + 3);
  }
  return undefined;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);

/**
 * Rewrites yargs' `Unknown arguments: ignore-cookie, ignoreCookie` as one line per kind, each
 * spelling once, with the nearest valid flag or command (git's "did you mean"). `args` is the
 * command line, `options` the flags of the command being parsed, `commands` its sub-commands.
 * @example unknownArguments('Unknown arguments: ignore-cookie, ignoreCookie', args, ['ignore-cookies'], [])
 * // "unknown option --ignore-cookie (did you mean --ignore-cookies?)"
 */
export function unknownArguments(
  message: string,
  args: string[],
  options: string[],
  commands: string[],
): string | undefined {
  const m = /^Unknown arguments?: (.*)$/s.exec(message);
  if (!m) return undefined;
  const names = m[1]!.split(', ');
  const typedAsFlag = (name: string) =>
    args.some(
      (a) => a === `--${name}` || a.startsWith(`--${name}=`) || a === `--no-${name}` || a === `-${name}`,
    );
  // yargs lists a flag in both spellings (ignore-cookie, ignoreCookie): keep the one typed.
  const unique = names.filter((n) => n === kebab(n) || !names.includes(kebab(n)));
  const flags = unique.filter(typedAsFlag);
  const words = unique.filter((n) => !typedAsFlag(n));
  const kebabOptions = [...new Set(options.filter((o) => o.length > 1).map(kebab))];
  const parts: string[] = [];
  for (const flag of flags) {
    const dashes = args.some((a) => a === `-${flag}`) && flag.length === 1 ? '-' : '--';
    parts.push(`unknown option ${dashes}${flag}${didYouMean(flag, kebabOptions, (s) => `--${s}`)}`);
  }
  for (const word of words)
    parts.push(
      commands.length
        ? `unknown command '${word}'${didYouMean(word, commands)}; commands: ${commands.join(', ')}`
        : `unexpected argument '${word}'`,
    );
  return parts.join('; ');
}

/**
 * yargs' `Invalid values:` block (one `Argument: format, Given: "xml", Choices: "csv", "ndjson"`
 * line per option) as one line: `--format 'xml' is not one of csv, ndjson`.
 */
export function invalidValues(message: string): string | undefined {
  if (!message.startsWith('Invalid values:')) return undefined;
  const parts = [...message.matchAll(/Argument: ([^,]+), Given: (.*), Choices: (.*)$/gm)].map(
    ([, name, given, choices]) =>
      // A string comes quoted; a bare `true` is the flag given without its value.
      given === 'true'
        ? `--${name} needs a value: one of ${choices!.replaceAll('"', '')}`
        : `--${name} ${given!.replace(/^"(.*)"$/, "'$1'")} is not one of ${choices!.replaceAll('"', '')}`,
  );
  return parts.length ? parts.join('; ') : undefined;
}

/** The one line a yargs failure message becomes (see {@link unknownArguments}, {@link invalidValues}). */
export function usageMessage(message: string, args: string[], options: string[], commands: string[]): string {
  return (
    unknownArguments(message, args, options, commands) ??
    invalidValues(message) ??
    message.replace(/^./, (c) => c.toLowerCase()).replace(/\s*\n\s*/g, '; ')
  );
}
