import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { UsageError } from '../errors.js';
import type { Emulator } from '../emulator/server.js';
import { readCaFile } from '../settings/ca-file.js';
import { flattenJson, type SettingsLayer } from '../settings/settings.js';
import { readMappingFile, resolveMapping, selectQuery, type Mapping } from '../settings/mapping.js';
import { readCookie } from '../sinks/cookie-file.js';
import { exportTables } from '../streams/route-by-type.js';
import { connect, settingsLayers } from './connection.js';
import { commitManifestPath, recoverCommit } from '../sinks/commit.js';
import { runRounds, type EntityRun } from './export-run.js';
import { stderrLogger, type CommonOptions } from './process-io.js';
import type { ProgressStream } from './progress.js';

export interface ExportArgs extends CommonOptions {
  settings?: string;
  setting?: string[];
  connection?: string;
  output?: string;
  cookies?: string;
  ignoreCookies?: boolean;
  entities?: string[];
  select?: string[];
  mapping?: string;
  format?: 'csv' | 'ndjson';
  table?: string;
  demo?: boolean;
  progress?: boolean;
  /** A PEM CA file to trust besides the system roots (e.g. `entra emulate --ca-out`). */
  ca?: string;
  /** Complete rounds of users and groups listed in N parallel partitions (1 = the sequential delta round). */
  parallel?: number;
}

/** The process streams of a run; tests pass their own. */
export interface ExportIo {
  stdout?: Writable;
  stderr?: ProgressStream;
  /** Interval of the plain progress line without a TTY (default 10 s). */
  progressIntervalMs?: number;
}

/** Validates the command line before anything else happens (exit 2, nothing written). */
function checkArgs(args: ExportArgs): void {
  const toStdout = args.output === '-';
  if (args.output === '') throw new UsageError('ERR_USAGE', "--output needs a folder, or '-' for stdout");
  if (args.format === 'ndjson' && !toStdout)
    throw new UsageError('ERR_USAGE', '--format ndjson writes to stdout: add --output -');
  if (
    args.parallel !== undefined &&
    !(Number.isInteger(args.parallel) && args.parallel >= 1 && args.parallel <= 64)
  )
    throw new UsageError('ERR_USAGE', `--parallel must be an integer from 1 to 64, got ${args.parallel}`);
  if (args.table !== undefined && !(toStdout && (args.format ?? 'csv') === 'csv'))
    throw new UsageError(
      'ERR_USAGE',
      '--table picks the one table written to stdout: use it with --output - --format csv',
    );
}

/**
 * `entra export`: one delta round per entity, streamed through the router into one CSV per table,
 * renamed into place only when the whole run succeeded; cookies written last.
 */
export async function exportCommand(
  args: ExportArgs,
  env: NodeJS.ProcessEnv = process.env,
  io: ExportIo = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const log = stderrLogger(args, stderr);
  checkArgs(args);
  const ca = args.ca !== undefined ? await readCaFile(args.ca) : undefined;
  const mappingFile = args.mapping
    ? await readMappingFile(resolve(args.mapping), args.connection)
    : undefined;
  const mapping: Mapping = resolveMapping({
    ...(args.entities?.length ? { entities: args.entities } : {}),
    ...(args.select?.length ? { select: args.select } : {}),
    ...(mappingFile ? { file: mappingFile } : {}),
  });
  const tables = exportTables(mapping);
  const toStdout = args.output === '-';
  const format = args.format ?? 'csv';
  const table = args.table ?? 'directoryobjects';
  if (toStdout && format === 'csv' && !tables.some((t) => t.table === table))
    throw new UsageError(
      'ERR_USAGE',
      `--table ${table} is not produced by this mapping; tables: ${tables.map((t) => t.table).join(', ')}`,
    );

  let demo: Emulator | undefined;
  let layers: SettingsLayer[];
  let settingsFile: string;
  if (args.demo) {
    // Loaded only for --demo: the emulator (and its certificate tooling) has no place in a real run.
    const { startDemo } = await import('./demo.js');
    demo = await startDemo(log);
    layers = [flattenJson(demo.settings('Contoso'), 'demo tenant')];
    settingsFile = 'demo tenant';
  } else
    ({ layers, file: settingsFile } = await settingsLayers(args, env, {
      logger: log,
      ...(ca ? { ca } : {}),
    }));
  try {
    const { settings, client, tokens } = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...((demo?.caPem ?? ca) ? { ca: demo?.caPem ?? ca } : {}),
      logger: log,
      settingsFile,
      env,
    });
    try {
      const outDir = resolve(args.output && !toStdout ? args.output : 'ExportOutput');
      const cookieDir = resolve(args.cookies ?? 'ExportCookies');
      // A run killed while moving its files into place is finished first, before cookies are read.
      if (await recoverCommit(commitManifestPath(cookieDir, settings.name)))
        log.info('entra export: finished moving the files of an interrupted run into place');
      const rounds: EntityRun[] = [];
      for (const m of mapping.entities) {
        const run: EntityRun = {
          entity: m.entity,
          select: selectQuery(m),
          mode: 'complete',
          objects: 0,
          pages: 0,
        };
        // The demo tenant is a new emulator at each run: its cookies could never be replayed.
        if (!args.ignoreCookies && !demo) {
          const cookie = await readCookie({
            dir: cookieDir,
            connection: settings.name,
            entity: m.entity,
            select: run.select,
            tenantId: settings.tenantId,
            graphUrl: settings.graphUrl,
            now: new Date(),
          });
          if (cookie.status === 'ok') {
            run.mode = 'incremental';
            run.cookie = cookie.deltaLink;
          } else if (cookie.status === 'unusable')
            log.warn(`${m.entity}: cookie not used (${cookie.reason}); running a complete round`);
        }
        rounds.push(run);
      }
      // Credentials first: a refused secret fails the run before any file is touched.
      await tokens.getToken();
      return await runRounds({
        settings,
        client,
        mapping,
        rounds,
        output: toStdout ? { stream: stdout, format, table } : { dir: outDir },
        cookieDir,
        log,
        ...(args.parallel ? { parallel: args.parallel } : {}),
        progress: {
          stream: stderr,
          enabled: !args.quiet && (args.progress === true || stderr.isTTY === true),
          ...(io.progressIntervalMs ? { intervalMs: io.progressIntervalMs } : {}),
        },
      });
    } finally {
      client.close();
    }
  } finally {
    await demo?.close();
  }
}
