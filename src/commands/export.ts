import { readdir, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import _ from 'highland';
import { EXIT, ToolError, UsageError } from '../errors.js';
import type { Emulator } from '../emulator/server.js';
import { entityInfo, type EntityName } from '../graph/schema.js';
import { flattenJson, type SettingsLayer } from '../settings/settings.js';
import { readMappingFile, resolveMapping, selectQuery, type Mapping } from '../settings/mapping.js';
import { createTableWriter, createCsvStdoutWriter, createNdjsonWriter, pipeRows } from '../sinks/csv-file.js';
import { readCookie, writeCookies, type CookieToWrite } from '../sinks/cookie-file.js';
import { graphDelta, type SourceMsg } from '../sources/graph-delta.js';
import { createRouter, exportTables, type RoundMode } from '../streams/route-by-type.js';
import type { TableRow } from '../types.js';
import { connect, settingsLayers } from './connection.js';
import { startDemo } from './demo.js';
import { stderrLogger, type CommonOptions } from './process-io.js';
import { Progress } from './progress.js';

export interface ExportArgs extends CommonOptions {
  settings?: string;
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
}

interface EntityRun {
  entity: EntityName;
  select: string;
  mode: RoundMode;
  reason?: string;
  deltaLink?: string;
  objects: number;
  pages: number;
}

/** Validates the command line before anything else happens (exit 2, nothing written). */
function checkArgs(args: ExportArgs): void {
  const toStdout = args.output === '-';
  if (args.format === 'ndjson' && !toStdout)
    throw new UsageError('ERR_USAGE', '--format ndjson writes to stdout: add --output -');
  if (args.table !== undefined && !(toStdout && (args.format ?? 'csv') === 'csv'))
    throw new UsageError(
      'ERR_USAGE',
      '--table picks the one table written to stdout: use it with --output - --format csv',
    );
}

/** Removes temp files a killed run left behind (`.<name>.<pid>.<rand>.tmp` of a dead process). */
async function sweepTemps(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const m = /^\..+\.(\d+)\.[^.]+\.tmp$/.exec(name);
    if (!m) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch {
      await unlink(join(dir, name)).catch(() => {});
    }
  }
}

/**
 * `entra export`: one delta round per entity, streamed through the router into one CSV per table,
 * renamed into place only when the whole run succeeded; cookies written last.
 */
export async function exportCommand(args: ExportArgs, env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const log = stderrLogger(args);
  checkArgs(args);
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
    demo = await startDemo(log);
    layers = [flattenJson(demo.settings('Contoso'), 'demo tenant')];
    settingsFile = 'demo tenant';
  } else ({ layers, file: settingsFile } = await settingsLayers(args, env));
  try {
    const { settings, client } = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...(demo ? { ca: demo.caPem } : {}),
      logger: log,
      settingsFile,
    });
    const outDir = resolve(args.output && !toStdout ? args.output : 'ExportOutput');
    const cookieDir = resolve(args.cookies ?? 'ExportCookies');
    const started = performance.now();

    const runs = new Map<EntityName, EntityRun>();
    for (const m of mapping.entities) {
      const select = selectQuery(m);
      const run: EntityRun = { entity: m.entity, select, mode: 'complete', objects: 0, pages: 0 };
      // The demo tenant is a new emulator at each run: its cookies could never be replayed.
      if (!args.ignoreCookies && !demo) {
        const cookie = await readCookie({
          dir: cookieDir,
          connection: settings.name,
          entity: m.entity,
          select,
          tenantId: settings.tenantId,
          graphUrl: settings.graphUrl,
          now: new Date(),
        });
        if (cookie.status === 'ok') {
          run.mode = 'incremental';
          run.deltaLink = cookie.deltaLink;
        } else if (cookie.status === 'unusable') {
          log.warn(`${m.entity}: cookie not used (${cookie.reason}); running a complete round`);
        }
      }
      runs.set(m.entity, run);
    }

    const route = createRouter({ mapping, mode: (e) => runs.get(e)!.mode });
    const counts = new Map<string, number>();
    let dropped = 0;
    const toRows = (msg: SourceMsg): TableRow[] => {
      const run = runs.get(msg.entity)!;
      if (msg.kind === 'mode') {
        if (msg.mode !== run.mode)
          log.warn(`${msg.entity}: ${msg.reason ?? 'cookie rejected'}; running a complete round`);
        run.mode = msg.mode;
        return [];
      }
      if (msg.kind === 'state') {
        run.deltaLink = msg.deltaLink;
        return [];
      }
      run.pages++;
      run.objects += msg.records.length;
      const rows: TableRow[] = [];
      for (const record of msg.records)
        for (const row of route({ kind: 'record', entity: msg.entity, record })) rows.push(row);
      for (const row of rows) {
        const key = `${row.table} ${row.cells.Command}`;
        counts.set(key, (counts.get(key) ?? 0) + 1);
        if (toStdout && format === 'csv' && row.table !== table) dropped++;
      }
      return rows;
    };
    const sources = [...runs.values()].map((run) =>
      _<SourceMsg>(
        Readable.from(
          graphDelta({
            client,
            entity: run.entity,
            initialUrl: `${settings.graphUrl}${entityInfo(run.entity).collection}/delta?$select=${run.select}`,
            ...(run.mode === 'incremental' && run.deltaLink ? { cookie: run.deltaLink } : {}),
          }),
        ),
      ),
    );
    // Each run starts fresh: deltaLinks come from this round only.
    for (const run of runs.values()) if (run.mode === 'incremental') delete run.deltaLink;
    const rows = _(sources).merge().map(toRows).sequence();

    const progress = new Progress(
      (s) =>
        `entra export: ${[...runs.values()].map((r) => `${r.entity} ${r.objects} (${r.pages} p)`).join(', ')}; ` +
        `${Math.round([...runs.values()].reduce((n, r) => n + r.objects, 0) / Math.max(s, 0.001))} objects/s; ` +
        `${client.stats.retries} retries${client.stats.throttled ? `, ${client.stats.throttled} throttled` : ''}`,
      { quiet: args.quiet ?? false, ...(args.progress ? { tty: process.stderr.isTTY === true } : {}) },
    );
    let onSignal: () => void = () => {};
    const interrupted = new Promise<never>((_resolve, reject) => {
      onSignal = () =>
        reject(
          new ToolError('ERR_INTERRUPTED', 'interrupted; previous outputs and cookies are unchanged', {
            exitCode: EXIT.interrupted,
          }),
        );
    });
    interrupted.catch(() => {});
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    progress.start();
    let written: string[] = [];
    try {
      if (toStdout) {
        const writer =
          format === 'ndjson'
            ? createNdjsonWriter(process.stdout)
            : createCsvStdoutWriter(process.stdout, table, tables.find((t) => t.table === table)!.columns);
        const result = await Promise.race([
          pipeRows(Readable.from(rows.toNodeStream({ objectMode: true })), writer),
          interrupted,
        ]);
        if (result.closedEarly) {
          log.info('entra export: output closed early; cookies not advanced');
          return EXIT.ok;
        }
      } else {
        await sweepTemps(outDir);
        const writer = createTableWriter({ dir: outDir, connection: settings.name, tables });
        try {
          await Promise.race([
            pipeline(rows.toNodeStream({ objectMode: true }), writer.writable),
            interrupted,
          ]);
          written = await writer.commit();
        } catch (error) {
          rows.destroy();
          await writer.abort();
          throw error;
        }
      }
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.stop();
      client.close();
    }
    for (const run of runs.values())
      if (!run.deltaLink)
        throw new ToolError('ERR_GRAPH_RESPONSE', `the ${run.entity} round ended without a deltaLink`);
    if (dropped > 0)
      log.warn(
        `cookies not advanced: ${dropped} rows of other tables than ${table} were not written (use --format ndjson or --output DIR to keep them)`,
      );
    else {
      const now = new Date();
      const cookies: CookieToWrite[] = [...runs.values()].map((r) => ({
        entity: r.entity,
        deltaLink: r.deltaLink!,
        select: r.select,
        tenantId: settings.tenantId,
        graphUrl: settings.graphUrl,
        createdAt: now,
      }));
      await writeCookies(cookieDir, settings.name, cookies);
    }
    const seconds = (performance.now() - started) / 1000;
    const summary = [...counts.entries()].map(([k, n]) => `${k} ${n}`).join(', ') || 'no rows';
    const pages = [...runs.values()].reduce((n, r) => n + r.pages, 0);
    const modes = [...runs.values()].map((r) => `${r.entity} ${r.mode}`).join(', ');
    log.info(
      `entra export: ${settings.name}: ${modes}; ${summary}; ${pages} pages, ${client.stats.retries} retries, ${seconds.toFixed(1)} s` +
        (written.length ? `\nwrote ${written.join(', ')}` : ''),
    );
    return EXIT.ok;
  } finally {
    await demo?.close();
  }
}
