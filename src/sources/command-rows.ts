import type { CommandRow, FulfillMsg } from '../types.js';
import type { CommandCsv } from './command-csv.js';

/**
 * The source of the reverse stream: the rows of every command CSV, in order, numbered across files
 * (`seq`), as an async generator (pulled: a slow Graph slows the reading). Stops before the next row
 * once `signal` is aborted (Ctrl-C: rows not read get no result). A CSV error in the middle of a file
 * (stdin is not read through first) ends the rows with a `failure` message, so that the rows before it
 * still get their results before the run fails.
 */
export async function* fromCommandCsvs(
  inputs: readonly CommandCsv[],
  options: {
    signal?: AbortSignal;
    onRow?: () => void;
    /** Called before each row is passed on: false stops the reading there (the row is not passed on). */
    admit?: (row: CommandRow) => boolean;
  } = {},
): AsyncGenerator<FulfillMsg> {
  let seq = 0;
  try {
    for (const input of inputs)
      for await (const row of input.rows()) {
        if (options.signal?.aborted) return;
        if (options.admit && !options.admit(row)) return;
        options.onRow?.();
        yield { kind: 'row', seq: seq++, row };
      }
  } catch (error) {
    yield { kind: 'failure', error: error instanceof Error ? error : new Error(String(error)) };
  }
}
