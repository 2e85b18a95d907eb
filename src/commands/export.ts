import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Emulator } from '../emulator/server.js';
import { readCaFile } from '../settings/ca-file.js';
import { checkExportPaths } from '../settings/paths.js';
import { flattenJson, type SettingsLayer } from '../settings/settings.js';
import { exportOptions } from '../settings/export-options.js';
import { selectQuery } from '../settings/mapping.js';
import { readCookie } from '../sinks/cookie-file.js';
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
  const { mapping, output } = await exportOptions(args);
  await checkExportPaths({
    ...('dir' in output ? { output: output.dir } : {}),
    ...('dir' in output && !args.demo ? { cookies: args.cookies ?? 'ExportCookies' } : {}),
  });
  const ca = args.ca !== undefined ? await readCaFile(args.ca) : undefined;

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
        output:
          'stdout' in output
            ? { stream: stdout, format: output.format, table: output.table }
            : { dir: output.dir },
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
