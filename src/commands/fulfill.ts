import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { Readable, type Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import _ from 'highland';
import { EXIT, ToolError, UsageError } from '../errors.js';
import type { GraphClient } from '../graph/client.js';
import { readCaFile } from '../settings/ca-file.js';
import { checkDistinctPaths, checkFulfillPaths, type NamedPath } from '../settings/paths.js';
import { acquireLock, type RunLock } from '../sinks/run-lock.js';
import {
  checkDeletes,
  describeExcess,
  formatLimit,
  resolveThreshold,
  thresholdError,
  type DeleteCheck,
  type Threshold,
} from '../settings/thresholds.js';
import type { ConnectionSettings } from '../settings/settings.js';
import type { SettingsLayer } from '../settings/settings.js';
import { createBatchStage } from '../sinks/batch-stage.js';
import { recordDone, recordStarted, skipJournaled } from '../sinks/journal-stages.js';
import { findCreated } from '../sinks/find-created.js';
import { fingerprintFile, openJournal, type Journal } from '../sinks/journal.js';
import type { PasswordSink } from '../sinks/password-file.js';
import { fulfillOptions } from '../settings/fulfill-options.js';
import { readMailSettings } from '../settings/mail-settings.js';
import { preparePasswords, settlePasswords } from '../sinks/password-stages.js';
import { References } from '../sinks/references.js';
import { createResultsSink, createResultsWriter, withResults } from '../sinks/results.js';
import { openCommandCsv, type CommandCsv } from '../sources/command-csv.js';
import { fromCommandCsvs } from '../sources/command-rows.js';
import { buildRequests, planRequests } from '../streams/build-requests.js';
import { readSkus } from '../streams/read-skus.js';
import { createInputWindow } from '../streams/input-window.js';
import type { SkuTable } from '../streams/license-request.js';
import type { CommandRow, FulfillMsg, ResultRow } from '../types.js';
import { connect, settingsLayers } from './connection.js';
import { openPasswordSinks } from './password-sinks.js';
import { stderrLogger, type CommonOptions } from './process-io.js';
import { Progress, type ProgressStream } from './progress.js';
import {
  checkSummaryPath,
  countResult,
  fulfillSummary,
  fulfillSummaryState,
  withSummary,
  type FulfillSummaryState,
} from './summary.js';

export interface FulfillArgs extends CommonOptions {
  setting?: string[];
  files?: string[];
  settings?: string;
  connection?: string;
  results?: string;
  format?: 'csv' | 'ndjson';
  dryRun?: boolean;
  journal?: string;
  navigation?: 'members' | 'owners' | 'manager';
  concurrency?: number;
  passwordFile?: string;
  writeBudget?: string;
  /** The inputs' encoding (`--encoding`) and delimiter (`--delimiter`). */
  encoding?: string;
  delimiter?: string;
  progress?: boolean;
  /** Extra CA to trust (PEM file), e.g. the emulator's. */
  ca?: string;
  /** `--max-deletes N|P%|off`: over the settings' `FulfillMaxDeletes` and the default 500. */
  maxDeletes?: string;
  /** Pass the delete threshold this once. */
  force?: boolean;
  /** `--redeem-urls`: invited guests' redeem URLs in the results (a file, mode 0600). */
  redeemUrls?: boolean;
  /** `--summary FILE`: one JSON document of the run, written when it ends (`-`: stdout, with --results FILE). */
  summary?: string;
}

const DEFAULT_GRAPH = 'https://graph.microsoft.com/v1.0/';
/** Results held back waiting for an earlier row, at most: the reader waits beyond that. */
const MAX_AHEAD = 10_000;

async function openResults(path: string | undefined, secret = false): Promise<Writable> {
  if (!path || path === '-') return process.stdout;
  // Opened now, so that an unwritable results file fails the run before anything is sent.
  const handle = await open(resolve(path), 'w', secret ? 0o600 : 0o666).catch((e: unknown) => {
    throw new UsageError(
      'ERR_USAGE',
      `--results: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  });
  // Redeem URLs are credentials: like the password file, readable by its owner only (an existing file too).
  if (secret) await handle.chmod(0o600);
  return handle.createWriteStream();
}

/**
 * The Graph client of a run. A dry run uses it for reads only (references), and plans without it
 * when there are no settings (they then give only the Graph URL).
 */
async function openGraph(
  args: FulfillArgs,
  env: NodeJS.ProcessEnv,
  log: ReturnType<typeof stderrLogger>,
  read?: FulfillIo['settings'],
): Promise<{
  client?: GraphClient;
  graphBase: string;
  layers?: SettingsLayer[];
  file?: string;
  settings?: ConnectionSettings;
}> {
  const ca = args.ca ? await readCaFile(args.ca) : undefined;
  try {
    const { layers, file } =
      read ?? (await settingsLayers(args, env, { logger: log, ...(ca ? { ca } : {}) }));
    const connection = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...(ca ? { ca } : {}),
      logger: log,
      settingsFile: file,
      env,
    });
    return {
      client: connection.client,
      graphBase: connection.settings.graphUrl,
      layers,
      file,
      settings: connection.settings,
    };
  } catch (e) {
    // A dry run plans without Graph: settings only set the Graph base URL of `@odata.id` references.
    if (!args.dryRun || !(e instanceof UsageError) || !/not found|no such|ENOENT/i.test(e.message)) throw e;
    log.info(`entra fulfill: --dry-run without settings: planning against ${DEFAULT_GRAPH}`);
    return { graphBase: DEFAULT_GRAPH };
  }
}

/** The process streams of a run (several connections: a prefixed stderr each), and settings already read. */
export interface FulfillIo {
  stderr?: ProgressStream;
  settings?: { layers: SettingsLayer[]; file: string };
  /** What the run reports to its `--summary` as it goes (set by fulfillCommand itself). */
  summary?: FulfillSummaryState;
}

/**
 * `entra fulfill`: command CSVs → Graph writes, one result row per input row, in input order.
 * Every input is opened and checked before the first write; a bad row fails alone.
 */
export async function fulfillCommand(
  args: FulfillArgs,
  env: NodeJS.ProcessEnv = process.env,
  io: FulfillIo = {},
): Promise<number> {
  const stderr = io.stderr ?? process.stderr;
  const log = stderrLogger(args, stderr);
  if (args.summary !== undefined && !io.summary) {
    // Checked before anything runs: a summary written over an input or the journal would destroy it.
    await checkSummaryPath(args.summary, (args.results ?? '-') === '-' ? 'results (--results -)' : undefined);
    const { files } = fulfillOptions(args, { stdinIsTTY: process.stdin.isTTY === true });
    await checkDistinctPaths(namedPaths(args, files));
    const state = fulfillSummaryState();
    return withSummary(
      { path: args.summary, command: 'fulfill', stdout: process.stdout, warn: (m) => log.warn(m) },
      () => fulfillCommand(args, env, { ...io, summary: state }),
      () => fulfillSummary(state),
    );
  }
  const sum = io.summary;
  const { files, budget, text } = fulfillOptions(args, { stdinIsTTY: process.stdin.isTTY === true });
  // Like generated passwords, redeem URLs go to a protected file only, never to a terminal or a pipe.
  if (args.redeemUrls && (!args.results || args.results === '-'))
    throw new UsageError(
      'ERR_USAGE',
      '--redeem-urls needs --results FILE: the redeem URLs are credentials, written to a file only its owner can read (mode 0600)',
    );
  if (sum)
    Object.assign(sum, {
      dryRun: args.dryRun === true,
      files,
      results: args.results ?? '-',
      journal: args.journal,
      budget,
    });
  // A bad --max-deletes is a usage error before anything runs.
  resolveThreshold({ flag: args.maxDeletes });
  await checkDistinctPaths(namedPaths(args, files));
  await checkFulfillPaths(args);
  const inputs: CommandCsv[] = [];
  let lock: RunLock | undefined;
  let client: GraphClient | undefined;
  let journal: Journal | undefined;
  let passwords: PasswordSink | undefined;
  let out: Writable | undefined;
  let recipientColumn: string | undefined;
  // A dry run opens no sink, but checks what the run checks: a generated password needs one.
  let passwordSinkGiven = false;
  try {
    const graph = await openGraph(args, env, log, io.settings);
    client = graph.client;
    if (sum) {
      sum.connection = graph.settings?.name;
      if (client) sum.stats = client.stats;
    }
    // Read once: the password mail sink, and the input column that may name each recipient.
    const mail = graph.layers
      ? readMailSettings(graph.layers, { ...(graph.file ? { baseDir: dirname(graph.file) } : {}) })
      : undefined;
    const mailColumn = mail?.toColumn;
    for (const file of files)
      inputs.push(
        await openCommandCsv({
          input: file,
          ...(file === '-' ? { stdin: process.stdin } : {}),
          ...(args.navigation ? { navigation: args.navigation } : {}),
          ...(mailColumn ? { passThrough: [mailColumn] } : {}),
          ...text,
        }),
      );
    const threshold = resolveThreshold({
      flag: args.maxDeletes,
      setting: graph.settings?.fulfillMaxDeletes,
      force: args.force,
    });
    // Counted before anything is sent: the first pass over each file counted its rows and deletes.
    const overLimit = judgeInputs(threshold, inputs, sum);
    if (threshold.forced) log.info(`entra fulfill: --force: ${threshold.source} not applied this once`);
    if (overLimit && !args.dryRun)
      throw thresholdError(
        `${overLimit}: nothing sent (look at the input, then rerun with --force to pass once)`,
      );
    if (overLimit)
      log.warn(`--dry-run: ${overLimit}: a real run would stop before sending anything (exit 4)`);
    // One run per journal: two at once would both send the rows neither has finished (duplicate creates).
    if (args.journal)
      lock = await acquireLock(`${resolve(args.journal)}.lock`, {
        command: `entra fulfill (journal ${args.journal})`,
        per: 'journal',
        onStale: (holder) => log.warn(`took over the journal lock of a run that is gone (${holder})`),
      });
    journal = args.journal
      ? await openJournal(
          resolve(args.journal),
          await Promise.all(files.map(async (f) => ({ file: f, fingerprint: await fingerprintFile(f) }))),
        )
      : undefined;
    const sinks = await openPasswordSinks({
      ...(args.passwordFile ? { passwordFile: args.passwordFile } : {}),
      ...(graph.layers ? { layers: graph.layers } : {}),
      ...(graph.file ? { settingsFile: graph.file } : {}),
      ...(mail ? { mail } : {}),
      dryRun: args.dryRun === true,
      logger: log,
    });
    passwords = sinks.sink;
    recipientColumn = sinks.recipientColumn;
    passwordSinkGiven = passwords !== undefined || args.passwordFile !== undefined || sinks.mail;
    out = await openResults(args.results, args.redeemUrls === true);
    // Once per run, and only when a file has licences: skuPartNumbers in their cells resolve through it.
    const skus =
      client && inputs.some((i) => i.columns.includes('assignedLicenses'))
        ? await readSkus(client)
        : undefined;
    const code = await run(graph.graphBase, out, threshold, skus);
    if (overLimit)
      throw thresholdError(`--dry-run: ${overLimit}: a real run would send nothing (pass --force to go on)`);
    return code;
  } finally {
    await Promise.all(inputs.map((i) => i.close()));
    client?.close();
    await journal?.close();
    await lock?.release();
    await passwords?.close();
    if (out && out !== process.stdout && !out.writableFinished) out.destroy();
  }

  async function run(
    graphBase: string,
    out: Writable,
    threshold: Threshold,
    skus?: SkuTable,
  ): Promise<number> {
    const results = createResultsWriter({
      out,
      format: args.format ?? 'csv',
      endOut: out !== process.stdout,
      ...(args.redeemUrls ? { redeemUrls: true } : {}),
    });
    const started = performance.now();
    const stop = new AbortController();
    const window = createInputWindow(MAX_AHEAD);
    // Objects named by userPrincipalName or mailNickname: looked up once per run (reads, dry run too).
    const references = new References({ client });
    const batches =
      client && !args.dryRun
        ? createBatchStage({
            client,
            concurrency: args.concurrency ?? 4,
            writeBudget: budget,
            logger: log,
            beforeSend: async (items) => {
              await Promise.all([
                journal ? recordStarted(journal)(items) : undefined,
                passwords ? preparePasswords(passwords)(items) : undefined,
              ]);
            },
            onFatal: () => stop.abort(),
            references,
          })
        : undefined;
    const writer = batches?.writer;
    if (sum && writer) sum.writer = writer;
    const sink = createResultsSink({
      results,
      window,
      ...(sum ? { onResult: (row: CommandRow, result: ResultRow) => countResult(sum, row, result) } : {}),
    });
    const { tally } = sink;
    let read = 0;
    if (sum) sum.read = () => read;
    // Inputs are counted before the first send (stdin too: it is spooled). An input read without that
    // first pass has its deletes counted as they come: the run stops before the first over the limit.
    let deletes = 0;
    let stoppedAt: string | undefined;
    const limit = threshold.limit;
    const admit =
      limit && 'count' in limit && inputs.some((i) => i.file === '-' && !i.counted)
        ? (row: CommandRow) => {
            if (row.file !== '-' || row.command !== 'delete' || ++deletes <= limit.count) return true;
            stoppedAt ??= `stdin line ${row.line}`;
            return args.dryRun === true;
          }
        : undefined;

    // The reverse stream: command CSVs → (journal) → requests → $batch writes → (passwords) → results.
    let rows = _<FulfillMsg>(
      Readable.from(
        fromCommandCsvs(inputs, { signal: stop.signal, onRow: () => read++, ...(admit ? { admit } : {}) }),
      ),
    ).through((s) => window.admit(s));
    if (journal) rows = rows.through(skipJournaled(journal));
    rows = rows.through(
      buildRequests({
        graphBase,
        passwordSink: passwordSinkGiven,
        ...(recipientColumn ? { recipientColumn } : {}),
        ...(skus ? { skus } : {}),
        logger: log,
        references,
      }),
    );
    rows = batches
      ? rows.through((s) => batches.through(s))
      : rows.through(
          planRequests(
            client ? references : undefined,
            client ? (request) => findCreated(client, request) : undefined,
          ),
        );
    if (batches && passwords) rows = rows.through(settlePasswords(passwords));
    rows = rows.through(withResults({ redeemUrls: args.redeemUrls === true }));
    if (batches && journal) rows = rows.through(recordDone(journal));

    const total = inputs.every((i) => i.rowCount !== undefined)
      ? inputs.reduce((n, i) => n + i.rowCount!, 0)
      : undefined;
    const progress = new Progress(
      'entra fulfill',
      (now) => {
        const pacer = writer?.pacer;
        // The budget held writes back a moment ago: it, not Graph's speed, sets the pace.
        const paced = pacer?.budget && now - pacer.budgetWaitAt < 5000 ? pacer.budget : undefined;
        const perSecond = paced ? (paced.writes * 1000) / paced.windowMs : undefined;
        return {
          done: tally.ok + tally.skipped + tally.failed + tally.planned,
          ...(total !== undefined ? { total } : {}),
          unit: 'rows',
          ...(perSecond
            ? {
                paceRate: perSecond,
                note: `waiting on Graph's write budget (${Math.round(perSecond * 60).toLocaleString('en-US')} writes/min)`,
              }
            : {}),
          details: [
            `${tally.ok} ok, ${tally.skipped} skipped, ${tally.failed} failed${tally.planned ? `, ${tally.planned} planned` : ''}`,
            `${read} read`,
            ...(writer ? [`${writer.stats.batches} batches, ${writer.stats.throttled} throttled`] : []),
          ],
        };
      },
      { enabled: !args.quiet && (args.progress === true || stderr.isTTY === true), stream: stderr },
    );
    let interrupted = false;
    const onSignal = () => {
      if (interrupted) return;
      interrupted = true;
      // The handlers are `once`: a second Ctrl-C gets Node's default, which ends the process at once.
      log.warn(
        `interrupted: finishing the requests in flight, sending nothing more (Ctrl-C again stops at once; ${
          args.journal ? 'rerun with the same --journal to finish' : 'a rerun finishes the job'
        })`,
      );
      void writer?.interrupt();
      stop.abort();
      window.open();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    progress.start();
    try {
      await pipeline(rows.toNodeStream({ objectMode: true }), sink.writable);
    } finally {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      progress.stop();
    }

    if (tally.groupsWithoutOwners)
      log.warn(
        `${tally.groupsWithoutOwners} group(s) ${args.dryRun ? 'would be' : 'were'} created without owners: Graph makes an app-created group without owners hard to manage; add owners with a *_owners_group.csv file`,
      );
    const seconds = (performance.now() - started) / 1000;
    log.info(
      `entra fulfill: ${read} rows: ${tally.ok} ok, ${tally.skipped} skipped, ${tally.failed} failed${tally.planned ? `, ${tally.planned} planned` : ''}` +
        (writer
          ? `; ${writer.stats.batches} batches, ${writer.stats.itemRetries + writer.stats.batchRetries} retries, ${writer.stats.throttled} throttled`
          : '') +
        `; ${seconds.toFixed(1)} s`,
    );
    const source = threshold.source === 'default' ? 'the default --max-deletes' : threshold.source;
    if (stoppedAt && args.dryRun)
      throw thresholdError(
        `--dry-run: ${deletes} delete rows from stdin exceed ${source} ${formatLimit(limit!)}: a real run would stop before the one at ${stoppedAt} (pass --force to go on)`,
      );
    if (stoppedAt)
      throw thresholdError(
        `delete rows from stdin exceed ${source} ${formatLimit(limit!)}: stopped before the one at ${stoppedAt}; the ${read} rows before it were sent (stdin cannot be counted ahead: give files for all or nothing)`,
      );
    if (interrupted)
      throw new ToolError(
        'ERR_INTERRUPTED',
        `interrupted after ${read} rows; rows without a result, or failed with ERR_INTERRUPTED, were not sent: rerun with the same --journal to finish`,
      );
    return tally.failed > 0 ? EXIT.rowsFailed : EXIT.ok;
  }
}

/**
 * The inputs' delete rows against `--max-deletes`, from the first pass over each file: a description
 * of the excess, or undefined when within the limit. A percentage is of the files' data rows, and
 * needs files: stdin cannot be counted ahead (a usage error).
 */
function judgeInputs(
  threshold: Threshold,
  inputs: CommandCsv[],
  sum?: FulfillSummaryState,
): string | undefined {
  if (sum) sum.threshold = threshold;
  const { limit } = threshold;
  if (!limit) return undefined;
  if ('percent' in limit && inputs.some((i) => !i.counted))
    throw new UsageError(
      'ERR_USAGE',
      `${threshold.source} ${formatLimit(limit)}: a percentage is of the input's rows, and stdin cannot be counted ahead: give files, or a count`,
    );
  const byFile: Record<string, number> = {};
  let rows = 0;
  for (const input of inputs)
    if (input.counted) {
      byFile[input.file] = input.counted.deletes;
      rows += input.counted.rows;
    }
  const check: DeleteCheck = checkDeletes(threshold, byFile, rows);
  if (sum) sum.deletes = check;
  return check.exceeded ? describeExcess(threshold, check, 'input rows') : undefined;
}

/** The files a run reads and writes, for checkDistinctPaths. */
function namedPaths(args: FulfillArgs, files: string[]): NamedPath[] {
  return [
    ...files.map((f) => ({ option: 'input', path: f, role: 'in' as const })),
    { option: '--settings', path: args.settings ?? 'appsettings.agent.json', role: 'in' },
    ...(args.ca ? [{ option: '--ca', path: args.ca, role: 'in' as const }] : []),
    ...(args.journal ? [{ option: '--journal', path: args.journal, role: 'out' as const }] : []),
    ...(args.passwordFile
      ? [{ option: '--password-file', path: args.passwordFile, role: 'out' as const }]
      : []),
    ...(args.results ? [{ option: '--results', path: args.results, role: 'out' as const }] : []),
    ...(args.summary ? [{ option: '--summary', path: args.summary, role: 'out' as const }] : []),
    // Last, so that a clash names the option that points at the lock.
    ...(args.journal
      ? [{ option: "--journal's lock", path: `${args.journal}.lock`, role: 'out' as const }]
      : []),
  ];
}
