import { resolve } from 'node:path';
import iconv from 'iconv-lite';
import { UsageError } from '../errors.js';
import { GRAPH_WRITE_BUDGET } from '../sinks/write-pacer.js';
import type { WriteBudget } from '../types.js';

/** The command-line options of `entra fulfill` that the run depends on, checked (exit 2 on a bad one). */
export interface FulfillOptionsArgs {
  files?: string[];
  journal?: string;
  concurrency?: number;
  writeBudget?: string;
  encoding?: string;
  delimiter?: string;
}

/** `fulfill`'s options, checked and typed before anything is opened or sent. */
export interface FulfillOptions {
  /** The inputs, `-` for stdin (the default). */
  files: string[];
  /** Client-side pacing, or null for `--write-budget off`. */
  budget: WriteBudget | null;
  /** How the inputs' bytes are read: their encoding when not UTF-8 or UTF-16 with a BOM, their delimiter. */
  text: { encoding?: string; delimiter?: string };
}

const DELIMITER_NAMES: Record<string, string> = { ',': ',', ';': ';', tab: '\t', '\t': '\t', '|': '|' };

/** `3000/150` (writes per seconds) or `off`. */
export function parseWriteBudget(text: string): WriteBudget | null {
  if (text === 'off') return null;
  const m = /^(\d+)\s*\/\s*(\d+(?:\.\d+)?)$/.exec(text.trim());
  if (!m || Number(m[1]) < 1 || Number(m[2]) <= 0)
    throw new Error(`expected WRITES/SECONDS (e.g. 3000/150) or off, got '${text}'`);
  return { writes: Number(m[1]), windowMs: Number(m[2]) * 1000 };
}

/**
 * Checks `fulfill`'s command line once, before anything else happens: the inputs (stdin once, not a
 * terminal, no file twice, a journal only for files), `--concurrency`, and `--write-budget`.
 */
export function fulfillOptions(args: FulfillOptionsArgs, context: { stdinIsTTY: boolean }): FulfillOptions {
  const files = args.files?.length ? args.files : ['-'];
  if (files.filter((f) => f === '-').length > 1)
    throw new UsageError('ERR_USAGE', "stdin ('-') can be read only once");
  if (files.includes('-') && context.stdinIsTTY)
    throw new UsageError(
      'ERR_USAGE',
      'no input: name one or more command CSV files, or pipe one into stdin (see entra fulfill --help)',
    );
  if (new Set(files.map((f) => resolve(f))).size !== files.length)
    throw new UsageError('ERR_USAGE', 'the same input file is named twice');
  if (args.journal && files.includes('-'))
    throw new UsageError(
      'ERR_USAGE',
      '--journal needs input files: stdin cannot be fingerprinted or read again on a rerun',
    );
  if (
    args.concurrency !== undefined &&
    !(Number.isInteger(args.concurrency) && args.concurrency >= 1 && args.concurrency <= 64)
  )
    throw new UsageError(
      'ERR_USAGE',
      `--concurrency must be an integer from 1 to 64, got ${args.concurrency}`,
    );
  let budget: WriteBudget | null = GRAPH_WRITE_BUDGET;
  if (args.writeBudget !== undefined) {
    try {
      budget = parseWriteBudget(args.writeBudget);
    } catch (e) {
      throw new UsageError('ERR_USAGE', `--write-budget: ${(e as Error).message}`);
    }
  }
  const text: FulfillOptions['text'] = {};
  if (args.encoding !== undefined) {
    if (args.encoding === '' || !iconv.encodingExists(args.encoding))
      throw new UsageError(
        'ERR_USAGE',
        `--encoding: unknown encoding ${JSON.stringify(args.encoding)} (e.g. utf-8, utf-16le, windows-1252, iso-8859-15)`,
      );
    text.encoding = args.encoding;
  }
  if (args.delimiter !== undefined) {
    const delimiter = DELIMITER_NAMES[args.delimiter.toLowerCase()];
    if (!delimiter)
      throw new UsageError(
        'ERR_USAGE',
        `--delimiter must be , ; tab or |, got ${JSON.stringify(args.delimiter)}`,
      );
    text.delimiter = delimiter;
  }
  return { files, budget, text };
}
