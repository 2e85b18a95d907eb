import { open } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { EXIT, ToolError, UsageError } from '../errors.js';
import type { GraphClient } from '../graph/client.js';
import { registerSecret } from '../redact.js';
import { BatchWriter, type WriteItem } from '../sinks/batch-writer.js';
import { fingerprintFile, openJournal, type Journal } from '../sinks/journal.js';
import type { PasswordSink } from '../sinks/password-file.js';
import { readMailSettings } from '../sinks/password-mail.js';
import { readCaFile } from '../settings/ca-file.js';
import type { SettingsLayer } from '../settings/settings.js';
import { createResultsWriter, resultFor, type Outcome } from '../sinks/results.js';
import { GRAPH_WRITE_BUDGET, parseWriteBudget, type WriteBudget } from '../sinks/write-pacer.js';
import { openCommandCsv, type CommandCsv, type CommandRow } from '../sources/command-csv.js';
import { describeRequest, toRequest, type GeneratedPassword } from '../streams/to-request.js';
import type { ResultRow, ResultStatus } from '../types.js';
import { connect, settingsLayers } from './connection.js';
import { openPasswordSinks } from './password-sinks.js';
import { stderrLogger, type CommonOptions } from './process-io.js';
import { Progress } from './progress.js';

export interface FulfillArgs extends CommonOptions {
  setting?: string[];
  files?: string[];
  settings?: string;
  connection?: string;
  results?: string;
  format?: 'csv' | 'ndjson';
  dryRun?: boolean;
  journal?: string;
  navigation?: 'members' | 'owners';
  concurrency?: number;
  passwordFile?: string;
  writeBudget?: string;
  progress?: boolean;
  /** Extra CA to trust (PEM file), e.g. the emulator's. */
  ca?: string;
}

const DEFAULT_GRAPH = 'https://graph.microsoft.com/v1.0/';
/** Results held back waiting for an earlier row, at most: the reader waits beyond that. */
const MAX_AHEAD = 10_000;

function checkArgs(args: FulfillArgs): { files: string[]; budget: WriteBudget | null } {
  const files = args.files?.length ? args.files : ['-'];
  if (files.filter((f) => f === '-').length > 1)
    throw new UsageError('ERR_USAGE', "stdin ('-') can be read only once");
  if (files.includes('-') && process.stdin.isTTY)
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
  return { files, budget };
}

async function openResults(path: string | undefined): Promise<Writable> {
  if (!path || path === '-') return process.stdout;
  // Opened now, so that an unwritable results file fails the run before anything is sent.
  const handle = await open(resolve(path), 'w').catch((e: unknown) => {
    throw new UsageError(
      'ERR_USAGE',
      `--results: cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  });
  return handle.createWriteStream();
}

/** The Graph client of a run, or none for a dry run (which needs settings only for the Graph URL). */
async function openGraph(
  args: FulfillArgs,
  env: NodeJS.ProcessEnv,
  log: ReturnType<typeof stderrLogger>,
): Promise<{ client?: GraphClient; graphBase: string; layers?: SettingsLayer[]; file?: string }> {
  const ca = args.ca ? await readCaFile(args.ca) : undefined;
  try {
    const { layers, file } = await settingsLayers(args, env, { logger: log, ...(ca ? { ca } : {}) });
    const connection = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...(ca ? { ca } : {}),
      logger: log,
      settingsFile: file,
      env,
    });
    if (!args.dryRun)
      return { client: connection.client, graphBase: connection.settings.graphUrl, layers, file };
    connection.client.close();
    return { graphBase: connection.settings.graphUrl, layers, file };
  } catch (e) {
    // A dry run plans without Graph: settings only set the Graph base URL of `@odata.id` references.
    if (!args.dryRun || !(e instanceof UsageError) || !/not found|no such|ENOENT/i.test(e.message)) throw e;
    log.info(`entra fulfill: --dry-run without settings: planning against ${DEFAULT_GRAPH}`);
    return { graphBase: DEFAULT_GRAPH };
  }
}

/**
 * `entra fulfill`: command CSVs → Graph writes, one result row per input row, in input order.
 * Every input is opened and checked before the first write; a bad row fails alone.
 */
export async function fulfillCommand(
  args: FulfillArgs,
  env: NodeJS.ProcessEnv = process.env,
): Promise<number> {
  const log = stderrLogger(args);
  const { files, budget } = checkArgs(args);
  const inputs: CommandCsv[] = [];
  let client: GraphClient | undefined;
  let journal: Journal | undefined;
  let passwords: PasswordSink | undefined;
  let out: Writable | undefined;
  let recipientColumn: string | undefined;
  try {
    const graph = await openGraph(args, env, log);
    client = graph.client;
    // Mail delivery may take each recipient from a column of the input (MailSettings:ToColumn).
    const mailColumn = graph.layers
      ? readMailSettings(graph.layers, { ...(graph.file ? { baseDir: dirname(graph.file) } : {}) })?.toColumn
      : undefined;
    for (const file of files)
      inputs.push(
        await openCommandCsv({
          input: file,
          ...(file === '-' ? { stdin: process.stdin } : {}),
          ...(args.navigation ? { navigation: args.navigation } : {}),
          ...(mailColumn ? { passThrough: [mailColumn] } : {}),
        }),
      );
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
      dryRun: args.dryRun === true,
      logger: log,
    });
    passwords = sinks.sink;
    recipientColumn = sinks.recipientColumn;
    out = await openResults(args.results);
    return await run(graph.graphBase, out);
  } finally {
    await Promise.all(inputs.map((i) => i.close()));
    client?.close();
    await journal?.close();
    await passwords?.close();
    if (out && out !== process.stdout && !out.writableFinished) out.destroy();
  }

  async function run(graphBase: string, out: Writable): Promise<number> {
    const results = createResultsWriter({
      out,
      format: args.format ?? 'csv',
      endOut: out !== process.stdout,
    });
    const counts: Record<ResultStatus, number> = { ok: 0, skipped: 0, failed: 0, planned: 0 };
    const ready = new Map<number, ResultRow>();
    const generated = new Map<number, GeneratedPassword>();
    /** Creates whose generated password the sink has recorded `pending`. */
    const prepared = new Set<number>();
    let nextOut = 0;
    let flushed: Promise<void> = Promise.resolve();
    let caughtUp: (() => void) | undefined;
    let seq = 0;
    let read = 0;
    let groupsWithoutOwners = 0;
    const started = performance.now();

    /** Results leave in input order, whatever order Graph answers in, one write at a time. */
    function emit(at: number, result: ResultRow): Promise<void> {
      ready.set(at, result);
      counts[result.status]++;
      flushed = flushed.then(async () => {
        while (ready.has(nextOut)) {
          const row = ready.get(nextOut)!;
          ready.delete(nextOut++);
          await results.write(row);
        }
        caughtUp?.();
      });
      return flushed;
    }

    /**
     * The password sink follows what became of a create with a generated password: `created` or
     * `discarded` once known; left `pending` when the answer was lost (a rerun settles it).
     */
    async function settlePassword(item: WriteItem, outcome: Outcome): Promise<void> {
      const secret = generated.get(item.seq);
      if (!secret || !passwords) return;
      generated.delete(item.seq);
      const sent = prepared.delete(item.seq);
      // A create an earlier run started was looked up before anything else: ours never went out.
      if (outcome.earlierRun)
        await passwords.settleEarlier(
          secret.userPrincipalName,
          outcome.earlierRun === 'found' ? 'created' : 'discarded',
        );
      if (!sent) return;
      if (outcome.status === 'ok' && outcome.newId) await passwords.confirm(secret);
      else if (!outcome.uncertain) await passwords.discard(secret);
    }

    const writer = client
      ? new BatchWriter({
          client,
          concurrency: args.concurrency ?? 4,
          writeBudget: budget,
          logger: log,
          beforeSend: async (items) => {
            const creates = items.filter((i) => i.row.kind === 'object' && i.row.command === 'insert');
            const secrets = creates
              .map((i) => generated.get(i.seq))
              .filter((p): p is GeneratedPassword => p !== undefined);
            for (const i of creates) if (generated.has(i.seq)) prepared.add(i.seq);
            await Promise.all([
              ...creates.map((i) =>
                journal?.recordStarted({
                  file: i.row.file,
                  line: i.row.line,
                  objectKey: i.request.objectKey,
                }),
              ),
              secrets.length ? passwords?.prepare(secrets) : undefined,
            ]);
          },
          onResult: async (item: WriteItem, outcome: Outcome) => {
            const result = resultFor(item.row, outcome);
            if (item.request.warning && outcome.httpStatus === 201) groupsWithoutOwners++;
            await settlePassword(item, outcome);
            if (outcome.status !== 'failed' || outcome.errorCode !== 'ERR_INTERRUPTED')
              await journal?.recordDone(result);
            await emit(item.seq, result);
          },
        })
      : undefined;

    async function handleRow(at: number, row: CommandRow): Promise<void> {
      if (row.kind === 'invalid') return emit(at, resultFor(row, { status: 'failed' }));
      const done = journal?.isDone(row.file, row.line);
      if (done)
        return emit(at, {
          ...done,
          message: done.message ? `${done.message} (journal)` : 'done in an earlier run (journal)',
        });
      const plan = toRequest(row, {
        graphBase,
        passwordSink: passwords !== undefined || args.dryRun === true,
        ...(recipientColumn ? { recipientColumn } : {}),
      });
      if (plan.kind === 'invalid')
        return emit(
          at,
          resultFor(row, {
            status: 'failed',
            errorCode: 'ERR_ROW_INVALID',
            message: plan.column ? `${plan.column}: ${plan.message}` : plan.message,
          }),
        );
      if (plan.kind === 'noop') return emit(at, resultFor(row, { status: 'ok', message: plan.message }));
      const profile = plan.request.body?.passwordProfile as { password?: unknown } | undefined;
      if (typeof profile?.password === 'string') registerSecret(profile.password);
      if (plan.request.warning) {
        if (!writer) groupsWithoutOwners++;
        log.verbose(`${row.file}:${row.line}: ${plan.request.warning}`);
      }
      if (!writer)
        return emit(at, resultFor(row, { status: 'planned', message: describeRequest(plan.request) }));
      if (plan.generatedPassword) generated.set(at, plan.generatedPassword);
      // Graph refuses a second user with the same userPrincipalName, but creates a second security group
      // with the same mailNickname: look groups up first, so that a replay never duplicates one.
      const lookupFirst = journal?.wasStarted(row.file, row.line)
        ? 'started'
        : row.kind === 'object' && row.command === 'insert' && row.entity === 'group'
          ? 'exists'
          : undefined;
      await writer.push({ seq: at, row, request: plan.request, ...(lookupFirst ? { lookupFirst } : {}) });
    }

    const progress = new Progress(
      (s) =>
        `entra fulfill: ${read} rows read, ${counts.ok} ok, ${counts.skipped} skipped, ${counts.failed} failed` +
        (writer
          ? `; ${Math.round((counts.ok + counts.skipped + counts.failed) / Math.max(s, 0.001))} rows/s, ${writer.stats.batches} batches, ${writer.stats.throttled} throttled`
          : ''),
      { quiet: args.quiet ?? false, ...(args.progress ? { tty: process.stderr.isTTY === true } : {}) },
    );
    let interrupted = false;
    const onSignal = () => {
      if (interrupted) return;
      interrupted = true;
      log.warn('interrupted: finishing the requests in flight, sending nothing more');
      void writer?.interrupt();
      caughtUp?.();
    };
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    progress.start();
    let failure: Error | undefined;
    const fail = (e: unknown) => (failure ??= e instanceof Error ? e : new Error(String(e)));
    try {
      reading: for (const input of inputs)
        for await (const row of input.rows()) {
          while (seq - nextOut >= MAX_AHEAD && !interrupted)
            await new Promise<void>((wake) => (caughtUp = wake));
          if (interrupted) break reading;
          read++;
          await handleRow(seq++, row);
        }
    } catch (e) {
      fail(e);
    }
    await writer?.end().catch(fail);
    await flushed.catch(fail);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    progress.stop();
    await results.end().catch(fail);
    if (failure) throw failure;

    if (groupsWithoutOwners)
      log.warn(
        `${groupsWithoutOwners} group(s) ${args.dryRun ? 'would be' : 'were'} created without owners: Graph makes an app-created group without owners hard to manage; add owners with a *_owners_group.csv file`,
      );
    const seconds = (performance.now() - started) / 1000;
    log.info(
      `entra fulfill: ${read} rows: ${counts.ok} ok, ${counts.skipped} skipped, ${counts.failed} failed${counts.planned ? `, ${counts.planned} planned` : ''}` +
        (writer
          ? `; ${writer.stats.batches} batches, ${writer.stats.itemRetries + writer.stats.batchRetries} retries, ${writer.stats.throttled} throttled`
          : '') +
        `; ${seconds.toFixed(1)} s`,
    );
    if (interrupted)
      throw new ToolError(
        'ERR_INTERRUPTED',
        `interrupted after ${read} rows; rows without a result, or failed with ERR_INTERRUPTED, were not sent: rerun with the same --journal to finish`,
      );
    return counts.failed > 0 ? EXIT.rowsFailed : EXIT.ok;
  }
}
