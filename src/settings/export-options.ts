import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { exportTables } from '../streams/export-tables.js';
import type { Mapping } from '../types.js';
import { readMappingFile, resolveMapping } from './mapping.js';

/** The command-line options of `entra export` that decide what the run reads and writes. */
export interface ExportOptionsArgs {
  connection?: string;
  output?: string;
  entities?: string[];
  select?: string[];
  mapping?: string;
  format?: 'csv' | 'ndjson';
  table?: string;
  parallel?: number | 'auto';
}

/** `export`'s options, checked and typed before anything is opened or sent. */
export interface ExportOptions {
  mapping: Mapping;
  /** Files in a folder (renamed into place at the end), or one stream to stdout. */
  output: { dir: string } | { stdout: true; format: 'csv' | 'ndjson'; table: string };
}

/**
 * Checks `export`'s command line and resolves the mapping (CLI, then `--mapping FILE`, then the
 * default), before anything else happens: a bad option is exit 2 with nothing written.
 */
export async function exportOptions(args: ExportOptionsArgs): Promise<ExportOptions> {
  const toStdout = args.output === '-';
  if (args.output === '') throw new UsageError('ERR_USAGE', "--output needs a folder, or '-' for stdout");
  if (args.format === 'ndjson' && !toStdout)
    throw new UsageError('ERR_USAGE', '--format ndjson writes to stdout: add --output -');
  if (
    args.parallel !== undefined &&
    args.parallel !== 'auto' &&
    !(Number.isInteger(args.parallel) && args.parallel >= 1 && args.parallel <= 64)
  )
    throw new UsageError(
      'ERR_USAGE',
      `--parallel must be auto or an integer from 1 to 64, got ${args.parallel}`,
    );
  if (args.table !== undefined && !(toStdout && (args.format ?? 'csv') === 'csv'))
    throw new UsageError(
      'ERR_USAGE',
      '--table picks the one table written to stdout: use it with --output - --format csv',
    );
  const mappingFile = args.mapping
    ? await readMappingFile(resolve(args.mapping), args.connection)
    : undefined;
  const mapping: Mapping = resolveMapping({
    ...(args.entities?.length ? { entities: args.entities } : {}),
    ...(args.select?.length ? { select: args.select } : {}),
    ...(mappingFile ? { file: mappingFile } : {}),
  });
  if (!toStdout) return { mapping, output: { dir: resolve(args.output ?? 'ExportOutput') } };
  const tables = exportTables(mapping);
  const format = args.format ?? 'csv';
  const table = args.table ?? 'directoryobjects';
  if (format === 'csv' && !tables.some((t) => t.table === table))
    throw new UsageError(
      'ERR_USAGE',
      `--table ${table} is not produced by this mapping; tables: ${tables.map((t) => t.table).join(', ')}`,
    );
  return { mapping, output: { stdout: true, format, table } };
}
