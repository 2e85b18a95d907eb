import { readdir, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import _ from 'highland';
import { EXIT, ToolError } from '../errors.js';
import type { GraphClient } from '../graph/client.js';
import { entityInfo, type EntityName } from '../graph/schema.js';
import type { Mapping } from '../settings/mapping.js';
import type { ConnectionSettings } from '../settings/settings.js';
import { stageCookies } from '../sinks/cookie-file.js';
import { commitManifestPath, commitStaged, type StagedFile } from '../sinks/commit.js';
import { createCsvStdoutWriter, createNdjsonWriter, createTableWriter, pipeRows } from '../sinks/csv-file.js';
import { graphDelta, type SourceMsg } from '../sources/graph-delta.js';
import { graphParallel, partitionProperty } from '../sources/graph-parallel.js';
import { createRouter, exportTables, type RoundMode } from '../streams/route-by-type.js';
import type { Logger, TableRow } from '../types.js';
import { Progress, type ProgressStream } from './progress.js';

/** One entity's round in a run: what it asks for, how it goes, where it ended. */
export interface EntityRun {
  entity: EntityName;
  select: string;
  mode: RoundMode;
  /** The deltaLink of the previous run, for an incremental round. */
  cookie?: string;
  /** The deltaLink this round ended with. */
  deltaLink?: string;
  objects: number;
  pages: number;
}

export interface RoundsOptions {
  settings: ConnectionSettings;
  client: GraphClient;
  mapping: Mapping;
  runs: Map<EntityName, EntityRun>;
  output: { dir: string } | { stream: Writable; format: 'csv' | 'ndjson'; table: string };
  cookieDir: string;
  log: Logger;
  progress: { stream: ProgressStream; enabled: boolean; intervalMs?: number };
  /** `--parallel N`: complete rounds of users and groups listed in N-way parallel partitions. */
  parallel?: number;
}

/**
 * Removes the temp files a killed run of this connection left behind (`.<connection>_<name>.<pid>.<hex>.tmp`
 * of a process that is gone). A live process's files are kept, whoever owns it.
 */
export async function sweepTemps(dir: string, connection: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return;
  }
  const prefix = `.${connection}_`;
  for (const name of names) {
    const m = /\.(\d+)\.[0-9a-f]+\.tmp$/.exec(name);
    if (!m || !name.startsWith(prefix)) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await unlink(join(dir, name)).catch(() => {});
    }
  }
}

/** Ctrl-C while reading fails the run (exit 130); during the final renames it waits for them to finish. */
function watchSignals() {
  let committing = false;
  let late = false;
  let fail: (e: Error) => void = () => {};
  const interrupted = new Promise<never>((_resolve, reject) => (fail = reject));
  interrupted.catch(() => {});
  const off = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  function onSignal() {
    if (committing) return void (late = true);
    // A second Ctrl-C kills as usual, should cleaning up ever hang.
    off();
    fail(new ToolError('ERR_INTERRUPTED', 'interrupted; previous outputs and cookies are unchanged'));
  }
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return {
    interrupted,
    off,
    commit: () => void (committing = true),
    get late() {
      return late;
    },
  };
}

/**
 * The rounds of one export run: a delta source per entity, merged, routed into table rows, written to
 * the CSV files (renamed into place at the end) or stdout, then the cookies. Resolves with the exit code.
 */
export async function runRounds(o: RoundsOptions): Promise<number> {
  const { settings, client, runs, log, cookieDir } = o;
  const started = performance.now();
  const tables = exportTables(o.mapping);
  const stdoutTable = 'stream' in o.output && o.output.format === 'csv' ? o.output.table : undefined;
  const route = createRouter({ mapping: o.mapping, mode: (e) => runs.get(e)!.mode });
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
      if (stdoutTable !== undefined && row.table !== stdoutTable) dropped++;
    }
    return rows;
  };
  const readables = [...runs.values()].map((run) => {
    const sequential = () =>
      graphDelta({
        client,
        entity: run.entity,
        initialUrl: `${settings.graphUrl}${entityInfo(run.entity).collection}/delta?$select=${run.select}`,
        ...(run.cookie ? { cookie: run.cookie } : {}),
      });
    const m = o.mapping.entities.find((e) => e.entity === run.entity)!;
    const parallel = o.parallel ?? 1;
    return Readable.from(
      parallel > 1 && run.mode === 'complete' && partitionProperty(run.entity)
        ? graphParallel(
            {
              client,
              entity: run.entity,
              attributes: m.attributes,
              navigations: m.navigations,
              parallel,
              logger: log,
            },
            sequential,
          )
        : sequential(),
      // A page or two ahead per entity is enough (the source prefetches one more): pages are large.
      { highWaterMark: 2 },
    );
  });
  // A source stopped early may still fail in the background (its client is closed): nobody listens then.
  for (const r of readables) r.on('error', () => {});
  // Rows travel a page at a time (one array per page): per-row stream overhead would dominate.
  const rows = _(readables.map((r) => _<SourceMsg>(r)))
    .merge()
    .map(toRows)
    .filter((page) => page.length > 0);

  const progress = new Progress((s) => {
    const all = [...runs.values()];
    const objects = all.reduce((n, r) => n + r.objects, 0);
    const { retries, throttled, waitedMs } = client.stats;
    return (
      `entra export: ${all.map((r) => `${r.entity} ${r.objects} (${r.pages} p)`).join(', ')}; ` +
      `${Math.round(objects / Math.max(s, 0.001))} objects/s; ${retries} retries` +
      (throttled ? `, ${throttled} throttled, waited ${(waitedMs / 1000).toFixed(1)} s` : '')
    );
  }, o.progress);
  const endOfRounds = () => {
    for (const run of runs.values())
      if (!run.deltaLink)
        throw new ToolError('ERR_GRAPH_RESPONSE', `the ${run.entity} round ended without a deltaLink`);
  };
  const signals = watchSignals();
  progress.start();
  let written: string[] = [];
  let staged: StagedFile[] = [];
  const manifestPath = commitManifestPath(cookieDir, settings.name);
  try {
    if ('stream' in o.output) {
      const { stream, format, table } = o.output;
      const writer =
        format === 'ndjson'
          ? createNdjsonWriter(stream)
          : createCsvStdoutWriter(stream, table, tables.find((t) => t.table === table)!.columns);
      const result = await Promise.race([
        pipeRows(Readable.from(rows.toNodeStream({ objectMode: true })), writer),
        signals.interrupted,
      ]);
      if (result.closedEarly) {
        log.info('entra export: output closed early; cookies not advanced');
        return EXIT.ok;
      }
      endOfRounds();
    } else {
      const { dir } = o.output;
      await sweepTemps(dir, settings.name);
      await sweepTemps(cookieDir, settings.name);
      const writer = createTableWriter({ dir, connection: settings.name, tables });
      try {
        await Promise.race([
          pipeline(rows.toNodeStream({ objectMode: true }), writer.writable),
          signals.interrupted,
        ]);
        endOfRounds();
        signals.commit();
        staged = await writer.stage();
        written = staged.map((f) => f.final);
      } catch (error) {
        await writer.abort();
        throw error;
      }
    }
    signals.commit();
    if (dropped > 0)
      log.warn(
        `cookies not advanced: ${dropped} rows of other tables than ${stdoutTable} were not written (use --format ndjson or --output DIR to keep them)`,
      );
    else {
      const createdAt = new Date();
      staged.push(
        ...(await stageCookies(
          cookieDir,
          settings.name,
          [...runs.values()].map((r) => ({
            entity: r.entity,
            deltaLink: r.deltaLink!,
            select: r.select,
            tenantId: settings.tenantId,
            graphUrl: settings.graphUrl,
            createdAt,
          })),
        )),
      );
    }
    // CSVs and cookies move into place together, at the very end.
    if (staged.length) await commitStaged(manifestPath, staged);
  } finally {
    signals.off();
    progress.stop();
    for (const r of readables) r.destroy();
  }

  const seconds = (performance.now() - started) / 1000;
  const all = [...runs.values()];
  const summary = [...counts.entries()].map(([k, n]) => `${k} ${n}`).join(', ') || 'no rows';
  const pages = all.reduce((n, r) => n + r.pages, 0);
  const modes = all.map((r) => `${r.entity} ${r.mode}`).join(', ');
  log.info(
    `entra export: ${settings.name}: ${modes}; ${summary}; ${pages} pages, ${client.stats.retries} retries, ${seconds.toFixed(1)} s`,
  );
  if ('dir' in o.output && written.length) {
    const { dir } = o.output;
    log.info(
      `entra export: wrote ${written.map((p) => p.slice(dir.length + 1)).join(', ')} in ${dir}; cookies in ${cookieDir}`,
    );
  }
  if (signals.late) {
    log.warn(
      'interrupted while the files were put in place: the run finished first; outputs and cookies are up to date',
    );
    return EXIT.interrupted;
  }
  return EXIT.ok;
}
