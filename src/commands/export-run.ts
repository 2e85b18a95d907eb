import { randomBytes } from 'node:crypto';
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
import {
  checkDeletes,
  describeExcess,
  thresholdError,
  type DeleteCheck,
  type Threshold,
} from '../settings/thresholds.js';
import { mappingKey, stageCookies } from '../sinks/cookie-file.js';
import { commitManifestPath, commitStaged, type StagedFile } from '../sinks/commit.js';
import { stageRunRecord } from '../sinks/run-record.js';
import type { Snapshot } from '../sinks/snapshot.js';
import { createCsvStdoutWriter, createNdjsonWriter, createTableWriter, pipeRows } from '../sinks/csv-file.js';
import {
  checkpointPath,
  discardResume,
  partsIntact,
  readCheckpoint,
  readWrittenObjects,
  resumeKey,
  saveCheckpoint,
  type Checkpoint,
  type RoundCheckpoint,
} from '../sinks/resume.js';
import { partPath } from '../sinks/csv-file.js';
import { graphDelta } from '../sources/graph-delta.js';
import { aimdConcurrency, type ConcurrencyLimiter } from '../sources/concurrency.js';
import {
  ChainLedger,
  graphParallel,
  partitionProperty,
  ruBudgetPerSecond,
} from '../sources/graph-parallel.js';
import { exportTables } from '../streams/export-tables.js';
import { createRoundState, type EntityRound } from '../streams/round-state.js';
import { createSeenIds, routeByTypeStream } from '../streams/route-by-type.js';
import { OBJECT_TABLE } from '../streams/encode-row.js';
import { splitNavigationStream } from '../streams/split-navigation.js';
import type { ExportMsg, Logger, PageMark, SourceMsg } from '../types.js';
import { Progress, type ProgressStream } from './progress.js';

export type { EntityRound as EntityRun } from '../streams/round-state.js';

export interface RoundsOptions {
  settings: ConnectionSettings;
  client: GraphClient;
  mapping: Mapping;
  /** Each entity's round as the run starts (mode and cookie from the cookie files). */
  rounds: EntityRound[];
  output: { dir: string } | { stream: Writable; format: 'csv' | 'ndjson'; table: string };
  cookieDir: string;
  log: Logger;
  progress: { stream: ProgressStream; enabled: boolean; intervalMs?: number };
  /**
   * `--parallel N|auto`: complete rounds of users and groups listed in partitions, N requests in flight
   * per entity, or (`auto`, the default) a window shared by the run and adapted to Graph's answers.
   */
  parallel?: number | 'auto';
  /** Objects per page of a partition's list (tests: many pages from a small tenant). */
  parallelPageSize?: number;
  /** When `auto` partitions a round (see graphParallel's autoMinObjects and autoMinLatencyMs). */
  autoThresholds?: { minObjects: number; minLatencyMs: number };
  /**
   * Whether the run moves the connection's state (its cookies): false for runs that are not the
   * scheduled run (`--output -`, another folder, another mapping) unless asked with `--advance-cookies`.
   */
  advance: boolean;
  /** Why the cookies are not advanced (one line for the log), when `advance` is false. */
  keepReason?: string;
  /** The keep reason is a warning (a run into another folder than the scheduled run's). */
  keepWarn?: boolean;
  /** Called before and after each write and rename of the commit step (fault injection). */
  onCommitStep?: (label: string) => void;
  /** `--max-deletes`: a round whose delete rows exceed it writes nothing and moves no state (exit 4). */
  threshold?: Threshold;
  /** The objects of the connection's previous state: the base of a percentage threshold. */
  deleteBase?: number;
  /**
   * `--diff`: the connection's snapshot, open for this run; every round's rows become the exact changes
   * against it. Committed with the cookies when the run advances them, else rolled back.
   */
  snapshot?: Snapshot;
  /** Filled as the run goes, for `--summary`. */
  report?: RoundsReport;
  /** Pages between two checkpoints of a resumable run (default {@link CHECKPOINT_PAGES}). */
  checkpointPages?: number;
  /** Called after each checkpoint is saved (fault injection for the resume tests). */
  onCheckpoint?: (n: number) => void;
  /** Called once each page's rows are written, before any checkpoint after it (fault injection). */
  onPageWritten?: (n: number) => void;
}

/** What a run did, for `--summary` (filled in place, so that a failed run still tells how far it got). */
export interface RoundsReport {
  rounds?: EntityRound[];
  rows?: Record<string, Record<string, number>>;
  deletes?: DeleteCheck;
  cookies?: 'advanced' | 'kept';
  written?: string[];
  /** The writer's rows by `<table> <Command>` as they go (a failed run's too). */
  counts?: ReadonlyMap<string, number>;
}

/** `{ 'members_group delete': 3 }` → `{ members_group: { delete: 3 } }`. */
export function rowsByTable(
  counts: ReadonlyMap<string, number> | undefined,
): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {};
  for (const [key, n] of counts ?? []) {
    const [table, command] = key.split(' ') as [string, string];
    (out[table] ??= {})[command] = n;
  }
  return out;
}

/** The round's delete rows per table against `--max-deletes`. */
function judgeDeletes(
  o: RoundsOptions,
  counts: ReadonlyMap<string, number> | undefined,
): DeleteCheck | undefined {
  if (!o.threshold) return undefined;
  const byTable: Record<string, number> = {};
  for (const [table, commands] of Object.entries(rowsByTable(counts))) byTable[table] = commands.delete ?? 0;
  const check = checkDeletes(o.threshold, byTable, o.deleteBase);
  if (o.report) o.report.deletes = check;
  return check;
}

/**
 * Pages between checkpoints: a checkpoint fsyncs every part file, so not at every page; 50 pages of
 * Graph's 100-999 objects is a few seconds of reading at most to repeat after a kill.
 */
export const CHECKPOINT_PAGES = 50;

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
    const m = /\.(\d+)\.[0-9a-f]+\.(?:tmp|bak)$/.exec(name);
    if (!m || !name.startsWith(prefix)) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') await unlink(join(dir, name)).catch(() => {});
    }
  }
}

/**
 * For progress: each complete round's object count (`GET /{collection}/$count`, ConsistencyLevel:
 * eventual), filled in as the answers come. A count Graph refuses (directory roles, a missing
 * permission) stays unknown, and so does the run's total: the line then shows no percentage.
 */
function countObjects(o: RoundsOptions): Map<EntityName, number> {
  const totals = new Map<EntityName, number>();
  for (const round of o.rounds) {
    if (round.mode !== 'complete') continue;
    o.client
      .get(`${o.settings.graphUrl}${entityInfo(round.entity).collection}/$count`, {
        headers: { ConsistencyLevel: 'eventual' },
        retry: 'never',
        throwHttpErrors: false,
      })
      .then(
        (r) => {
          if (r.status === 200 && Number.isSafeInteger(r.body) && (r.body as number) >= 0)
            totals.set(round.entity, r.body as number);
        },
        () => undefined,
      );
  }
  return totals;
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
 * Whether this entity's round may run as `--parallel` partitions (`auto` decides on its own whether the
 * tenant is large and Graph far enough); a round resumed mid-way goes on the way it was read: its
 * sequential links, or its partitions' chains (with this run's window, even `--parallel 1`).
 */
function runsParallel(o: RoundsOptions, round: EntityRound, resume?: RoundCheckpoint): boolean {
  const parallel = o.parallel ?? 'auto';
  if (resume?.parallel) return partitionProperty(round.entity) !== undefined;
  return (
    (parallel === 'auto' || parallel > 1) &&
    round.mode === 'complete' &&
    !resume?.next &&
    partitionProperty(round.entity) !== undefined
  );
}

/** A round finished before the checkpoint: its mode and deltaLink, no page. */
async function* finishedRound(entity: EntityName, cp: RoundCheckpoint): AsyncGenerator<SourceMsg> {
  yield { kind: 'mode', entity, mode: cp.mode };
  yield { kind: 'state', entity, deltaLink: cp.deltaLink! };
}

/** One entity's delta source: the sequential round, or `--parallel` partitions for a complete one. */
function deltaSource(
  o: RoundsOptions,
  round: EntityRound,
  limiter: () => ConcurrencyLimiter,
  ledger: ChainLedger,
  resume?: RoundCheckpoint,
): AsyncGenerator<SourceMsg> {
  const { settings, client, log } = o;
  if (resume?.deltaLink) return finishedRound(round.entity, resume);
  const sequential = () =>
    graphDelta({
      client,
      entity: round.entity,
      initialUrl: `${settings.graphUrl}${entityInfo(round.entity).collection}/delta?$select=${round.select}`,
      ...(round.cookie ? { cookie: round.cookie } : {}),
      ...(resume?.next ? { resume: { url: resume.next, mode: resume.mode } } : {}),
    });
  const m = o.mapping.entities.find((e) => e.entity === round.entity)!;
  const parallel = o.parallel ?? 'auto';
  return runsParallel(o, round, resume)
    ? graphParallel(
        {
          client,
          entity: round.entity,
          attributes: m.attributes,
          navigations: m.navigations,
          parallel,
          ...(parallel === 'auto' ? { limiter: limiter() } : {}),
          ledger,
          ...(resume?.parallel ? { resume: resume.parallel } : {}),
          ...(o.parallelPageSize ? { pageSize: o.parallelPageSize } : {}),
          ...(o.autoThresholds
            ? {
                autoMinObjects: o.autoThresholds.minObjects,
                autoMinLatencyMs: o.autoThresholds.minLatencyMs,
              }
            : {}),
          logger: log,
        },
        sequential,
      )
    : sequential();
}

/**
 * The rounds of one export run, as one composed stream: a delta source per entity, merged → router →
 * navigation splitters → cookie stage (which takes the rounds' mode and state messages out) → the CSV
 * files (renamed into place at the end) or stdout; then the cookies, from the cookie stage's
 * deltaLinks. Resolves with the exit code.
 */
export async function runRounds(o: RoundsOptions): Promise<number> {
  const { settings, log, cookieDir, mapping } = o;
  // Resumable: the scheduled run to a folder (ad-hoc runs and stdout keep nothing for later).
  if (!('dir' in o.output) || !o.advance) return runRoundsOnce(o, undefined);
  const { dir } = o.output;
  const tables = exportTables(mapping);
  const cpPath = checkpointPath(cookieDir, settings.name);
  const key = resumeKey({
    tenantId: settings.tenantId,
    graphUrl: settings.graphUrl,
    output: dir,
    tables,
    rounds: o.rounds.map((r) => ({
      entity: r.entity,
      select: r.select,
      ...(r.cookie ? { cookie: r.cookie } : {}),
    })),
  });
  const cp = await readCheckpoint(cpPath);
  const intact = cp !== undefined && (await partsIntact(cp, cp.dir, settings.name));
  let resume: Resume | undefined;
  if (cp && intact && cp.key === key && !o.snapshot) {
    resume = { cpPath, key, from: cp };
    const pages = Object.values(cp.rounds).reduce((n, r) => n + (r?.pages ?? 0), 0);
    log.info(
      `entra export: ${settings.name}: resuming the round a previous run left at its checkpoint of ${cp.savedAt} (${pages} pages read)`,
    );
  } else {
    // Parts gone and other settings: the run that wrote it committed (and was killed before removing it).
    if (cp && o.snapshot && intact && cp.key === key)
      // --diff finds deletes from the ids this run saw: a resumed round would take the part read
      // before the kill for deletes.
      log.info(
        `entra export: ${settings.name}: --diff: a previous run left a checkpoint; its round starts over from the first page`,
      );
    else if (cp && (intact || cp.key === key))
      log.warn(
        cp.key !== key
          ? 'a previous run left a checkpoint for other settings, mapping, output or cookies: starting its round over'
          : 'a previous run left a checkpoint whose files are gone: starting its round over',
      );
    if (cp?.dir)
      await discardResume(
        cpPath,
        cp.dir,
        settings.name,
        Object.keys(cp.files).map((table) => ({ table })),
      );
    await discardResume(cpPath, dir, settings.name, tables);
    if (!o.snapshot) resume = { cpPath, key };
  }
  try {
    return await runRoundsOnce(o, resume);
  } catch (error) {
    if (!(error instanceof ToolError) || error.code !== 'ERR_RESUME_EXPIRED' || !resume?.from) throw error;
    log.warn(`${error.message}: starting the round over from its first page`);
    await discardResume(cpPath, dir, settings.name, tables);
    return await runRoundsOnce(o, { cpPath, key });
  }
}

/** Where a round goes on after one of its pages; a `--parallel` partition's page, where its chain does. */
type PageLink = { next?: string; deltaLink?: string } | { chain: { id: number; next?: string } };

/** A resumable run: where its checkpoints go, and the one it continues from. */
interface Resume {
  cpPath: string;
  key: string;
  from?: Checkpoint;
}

async function runRoundsOnce(o: RoundsOptions, resume: Resume | undefined): Promise<number> {
  const { settings, client, log, cookieDir, mapping } = o;
  const started = performance.now();
  const startedAt = new Date();
  const tables = exportTables(mapping);
  const stdoutTable = 'stream' in o.output && o.output.format === 'csv' ? o.output.table : undefined;
  const from = resume?.from;
  const initial = o.rounds.map((r) => {
    const c = from?.rounds[r.entity];
    return c ? { ...r, mode: c.mode, objects: c.objects, pages: c.pages } : { ...r };
  });
  // `auto`: one window for the run's entities, as Graph's budget is one per app and tenant (a tenant
  // large enough to be partitioned has more than 500 users: 8,000 RU per 10 s).
  let shared: ConcurrencyLimiter | undefined;
  const limiter = () => (shared ??= aimdConcurrency({ max: 48, ruPerSecond: ruBudgetPerSecond(501) }));
  // Where each round goes on after each page still on its way to the files (resumable runs only).
  const pageLinks = new Map<EntityName, Map<number, PageLink>>();
  // Where each `--parallel` round's chains of pages stand, as far as the written pages go.
  const ledgers = new Map<EntityName, ChainLedger>();
  const readables = initial.map((round) => {
    const ledger = new ChainLedger();
    ledgers.set(round.entity, ledger);
    const source = deltaSource(o, round, limiter, ledger, from?.rounds[round.entity]);
    // A page or two ahead per entity is enough (the source prefetches one more): pages are large.
    return Readable.from(resume ? tracked(round, source) : source, { highWaterMark: 2 });
  });
  async function* tracked(round: EntityRound, source: AsyncGenerator<SourceMsg>): AsyncGenerator<SourceMsg> {
    const mine = new Map<number, PageLink>();
    pageLinks.set(round.entity, mine);
    let pages = round.pages;
    for await (const msg of source) {
      if (msg.kind === 'page')
        mine.set(
          ++pages,
          msg.chain
            ? { chain: msg.chain }
            : {
                ...(msg.next !== undefined ? { next: msg.next } : {}),
                ...(msg.deltaLink !== undefined ? { deltaLink: msg.deltaLink } : {}),
              },
        );
      yield msg;
    }
  }
  // A source stopped early may still fail in the background (its client is closed): nobody listens then.
  for (const r of readables) r.on('error', () => {});
  const state = createRoundState(initial, { logger: log, marks: resume !== undefined });
  if (o.report) o.report.rounds = [...state.rounds.values()];
  let seen: ReturnType<typeof createSeenIds> | undefined;
  let last: Awaited<ReturnType<typeof readWrittenObjects>> | undefined;
  if (from && 'dir' in o.output && from.files[OBJECT_TABLE] !== undefined) {
    const ids = (seen = createSeenIds());
    last = await readWrittenObjects(
      partPath(o.output.dir, settings.name, OBJECT_TABLE),
      from.files[OBJECT_TABLE],
      (id) => void ids.add(id),
    );
  }
  // A `--parallel` round resumed mid-way: an object met again was written before (each object is in
  // one chain), so it comes again with more links only, as the chain would have said uninterrupted.
  const resumedParallel = new Set(
    initial.filter((r) => from?.rounds[r.entity]?.parallel).map((r) => r.entity),
  );
  // Rows travel a page at a time (one array per page): per-row stream overhead would dominate.
  const rows = _(readables.map((r) => _<ExportMsg>(r)))
    .merge()
    .through(
      routeByTypeStream({
        mapping,
        typed: 'stream' in o.output && o.output.format === 'ndjson',
        ...(seen ? { seen } : {}),
        ...(last ? { last } : {}),
        ...(from ? { linksOnlyRepeats: resumedParallel } : {}),
      }),
    )
    .through(splitNavigationStream({ mapping }))
    .through(
      o.snapshot
        ? o.snapshot.diffStage({ mapping, modes: new Map(o.rounds.map((r) => [r.entity, r.mode])) })
        : (s: Highland.Stream<ExportMsg>) => s,
    )
    .through(state.through);

  // The checkpoint stage: every CHECKPOINT_PAGES pages, the part files fsynced, then the links.
  const at = new Map<EntityName, RoundCheckpoint>(
    initial.map((r) => [
      r.entity,
      from?.rounds[r.entity] ?? { mode: r.mode, next: null, objects: 0, pages: 0 },
    ]),
  );
  let sinceCheckpoint = 0;
  let checkpoints = 0;
  let sync: (() => Promise<Record<string, number>>) | undefined;
  let countsNow: () => [string, number][] = () => [];
  let pagesWritten = 0;
  const onMark = async (mark: PageMark) => {
    const round = state.rounds.get(mark.entity)!;
    if (mark.deltaLink !== undefined) {
      // The round has ended and its every row is taken.
      ledgers.delete(mark.entity);
      at.set(mark.entity, {
        mode: round.mode,
        next: null,
        deltaLink: mark.deltaLink,
        objects: mark.objects,
        pages: mark.pages,
      });
      return;
    }
    const mine = pageLinks.get(mark.entity)!;
    const link = mine.get(mark.pages);
    mine.delete(mark.pages);
    if (!link)
      throw new ToolError('ERR_INTERNAL', `no link recorded for page ${mark.pages} of ${mark.entity}`);
    o.onPageWritten?.(++pagesWritten);
    if ('chain' in link) {
      ledgers.get(mark.entity)!.written(link.chain.id, link.chain.next);
      at.set(mark.entity, { mode: round.mode, next: null, objects: mark.objects, pages: mark.pages });
    } else
      at.set(mark.entity, {
        mode: round.mode,
        next: link.next ?? null,
        ...(link.deltaLink ? { deltaLink: link.deltaLink } : {}),
        objects: mark.objects,
        pages: mark.pages,
      });
    if (++sinceCheckpoint < (o.checkpointPages ?? CHECKPOINT_PAGES)) return;
    sinceCheckpoint = 0;
    const files = await sync!();
    // A partitioned round mid-way (planned, not ended): its chains as the written pages left them.
    const rounds = Object.fromEntries(
      [...at].map(([entity, r]) => {
        const parallel = r.deltaLink ? undefined : ledgers.get(entity)?.state();
        return [entity, parallel ? { ...r, parallel } : r];
      }),
    );
    await saveCheckpoint(resume!.cpPath, {
      version: 1,
      key: resume!.key,
      savedAt: new Date().toISOString(),
      dir: (o.output as { dir: string }).dir,
      rounds,
      files,
      counts: countsNow(),
    });
    o.onCheckpoint?.(++checkpoints);
  };

  const totals = o.progress.enabled ? countObjects(o) : new Map<EntityName, number>();
  const progress = new Progress(
    'entra export',
    () => {
      const all = [...state.rounds.values()];
      const { retries, throttled, waitedMs } = client.stats;
      const known = all.every((r) => totals.has(r.entity));
      return {
        done: all.reduce((n, r) => n + r.objects, 0),
        ...(known ? { total: all.reduce((n, r) => n + totals.get(r.entity)!, 0) } : {}),
        unit: 'objects',
        details: [
          all
            .map((r) => {
              const total = totals.get(r.entity);
              return `${r.entity} ${r.objects}${total !== undefined ? `/${total}` : ''} (${r.pages} p)`;
            })
            .join(', '),
          `${retries} retries` +
            (throttled ? `, ${throttled} throttled, waited ${(waitedMs / 1000).toFixed(1)} s` : ''),
        ],
      };
    },
    o.progress,
  );
  const signals = watchSignals();
  progress.start();
  let written: string[] = [];
  let staged: StagedFile[] = [];
  let counts: ReadonlyMap<string, number> | undefined;
  let dropped = 0;
  const manifestPath = commitManifestPath(cookieDir, settings.name);
  const run = randomBytes(8).toString('hex');
  let commitPoint: (() => void) | undefined;
  try {
    if ('stream' in o.output) {
      const { stream, format, table } = o.output;
      const writer =
        format === 'ndjson'
          ? createNdjsonWriter(stream)
          : createCsvStdoutWriter(stream, table, tables.find((t) => t.table === table)!.columns);
      if (o.report) o.report.counts = writer.counts;
      const result = await Promise.race([
        pipeRows(Readable.from(rows.toNodeStream({ objectMode: true })), writer),
        signals.interrupted,
      ]);
      counts = writer.counts;
      dropped = writer.dropped;
      if (o.report) o.report.rows = rowsByTable(counts);
      if (result.closedEarly) {
        log.info('entra export: output closed early; cookies not advanced');
        return EXIT.ok;
      }
      state.deltaLinks();
      const check = judgeDeletes(o, counts);
      if (check?.exceeded)
        throw thresholdError(
          `${describeExcess(o.threshold!, check, 'objects in the snapshot')}: the rows went to stdout as they came; cookies not advanced (look at the changes, then rerun with --force to pass once)`,
        );
    } else {
      const { dir } = o.output;
      await sweepTemps(dir, settings.name);
      await sweepTemps(cookieDir, settings.name);
      const writer = createTableWriter({
        dir,
        connection: settings.name,
        tables,
        ...(resume
          ? {
              parts: {
                onMark,
                ...(from ? { resumeAt: from.files, counts: from.counts } : {}),
              },
            }
          : {}),
      });
      sync = () => writer.sync();
      countsNow = () => [...writer.counts];
      if (o.report) o.report.counts = writer.counts;
      try {
        await Promise.race([
          pipeline(rows.toNodeStream({ objectMode: true }), writer.writable),
          signals.interrupted,
        ]);
        state.deltaLinks();
        if (o.report) o.report.rows = rowsByTable(writer.counts);
        const check = judgeDeletes(o, writer.counts);
        if (check?.exceeded)
          throw thresholdError(
            `${describeExcess(o.threshold!, check, 'objects in the snapshot')}: nothing written, cookies kept (look at the changes, then rerun with --force to pass once)`,
          );
        signals.commit();
        staged = await writer.stage();
        written = staged.map((f) => f.final);
        counts = writer.counts;
      } catch (error) {
        await writer.abort();
        const code = error instanceof ToolError ? error.code : undefined;
        // Over --max-deletes the round was read to its end: nothing of it is kept for later.
        const keep = (checkpoints > 0 || from) && code !== 'ERR_THRESHOLD';
        if (resume && keep && code !== 'ERR_RESUME_EXPIRED')
          log.info(
            `entra export: ${settings.name}: the round is checkpointed; the next run continues from its last checkpoint`,
          );
        // No checkpoint to continue from: nothing to keep (the previous outputs are untouched).
        else if (resume && !keep) await discardResume(resume.cpPath, dir, settings.name, tables);
        throw error;
      }
    }
    signals.commit();
    if (o.report) o.report.cookies = 'kept';
    if (!o.advance) {
      const line = `entra export: cookies not advanced: ${o.keepReason}`;
      if (o.keepReason && o.keepWarn) log.warn(line);
      else if (o.keepReason) log.info(line);
      if (dropped > 0)
        log.info(
          `entra export: ${dropped} rows of other tables than ${stdoutTable} not written (--table NAME for another, --format ndjson for all)`,
        );
    } else if (dropped > 0)
      log.warn(
        `cookies not advanced: ${dropped} rows of other tables than ${stdoutTable} were not written (use --format ndjson or --output DIR to keep them)`,
      );
    else {
      const createdAt = new Date();
      const links = state.deltaLinks();
      staged.push(
        ...(await stageCookies(
          cookieDir,
          settings.name,
          [...state.rounds.values()].map((r) => ({
            entity: r.entity,
            deltaLink: links.get(r.entity)!,
            select: r.select,
            tenantId: settings.tenantId,
            graphUrl: settings.graphUrl,
            createdAt,
            mapping: mappingKey([...state.rounds.values()]),
            output: 'dir' in o.output ? o.output.dir : '-',
          })),
        )),
      );
      const all = [...state.rounds.values()];
      staged.push(
        await stageRunRecord(cookieDir, settings.name, {
          startedAt: startedAt.toISOString(),
          endedAt: createdAt.toISOString(),
          exit: EXIT.ok,
          modes: Object.fromEntries(all.map((r) => [r.entity, r.mode])),
          rows: Object.fromEntries(counts ?? []),
          pages: all.reduce((n, r) => n + r.pages, 0),
          diff: o.snapshot !== undefined,
          output: 'dir' in o.output ? o.output.dir : '-',
        }),
      );
      const snapshot = o.snapshot;
      if (snapshot)
        commitPoint = () =>
          snapshot.commit(
            run,
            [...state.rounds.values()].map((r) => ({
              entity: r.entity,
              select: r.select,
              deltaLink: links.get(r.entity)!,
            })),
            mapping,
            createdAt,
          );
    }
    // CSVs, cookies and the snapshot move into place together, at the very end.
    if (staged.length)
      await commitStaged(manifestPath, staged, {
        run,
        ...(commitPoint ? { commitPoint } : {}),
        ...(o.onCommitStep ? { onStep: o.onCommitStep } : {}),
      });
    if (o.report) {
      o.report.written = written;
      if (o.advance && dropped === 0) o.report.cookies = 'advanced';
    }
    if (resume) await unlink(resume.cpPath).catch(() => undefined);
  } finally {
    o.snapshot?.rollback();
    signals.off();
    progress.stop();
    for (const r of readables) r.destroy();
  }

  const seconds = (performance.now() - started) / 1000;
  const all = [...state.rounds.values()];
  const summary = [...(counts ?? [])].map(([k, n]) => `${k} ${n}`).join(', ') || 'no rows';
  const pages = all.reduce((n, r) => n + r.pages, 0);
  const modes = all.map((r) => `${r.entity} ${r.mode}`).join(', ');
  log.info(
    `entra export: ${settings.name}: ${modes}; ${summary}; ${pages} pages, ${client.stats.retries} retries, ${seconds.toFixed(1)} s`,
  );
  if ('dir' in o.output && written.length) {
    const { dir } = o.output;
    log.info(
      `entra export: wrote ${written.map((p) => p.slice(dir.length + 1)).join(', ')} in ${dir}${o.advance ? `; cookies in ${cookieDir}` : ''}`,
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
