import { existsSync, writeSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { Emulator } from '../emulator/server.js';
import { readCaFile } from '../settings/ca-file.js';
import { checkExportPaths } from '../settings/paths.js';
import { flattenJson, type SettingsLayer } from '../settings/settings.js';
import { exportOptions } from '../settings/export-options.js';
import { selectQuery } from '../settings/mapping.js';
import { readCookie, readScheduledState } from '../sinks/cookie-file.js';
import { acquireLock, connectionLockPath, type RunLock } from '../sinks/run-lock.js';
import { planState } from '../sinks/state-plan.js';
import { snapshotObjectCount } from '../sinks/snapshot-size.js';
import { resolveThreshold } from '../settings/thresholds.js';
import { recordFailedRun } from '../sinks/run-record.js';
import { EXIT, ToolError } from '../errors.js';
import { committedRun, Snapshot, snapshotPath } from '../sinks/snapshot.js';
import { connect, settingsLayers } from './connection.js';
import { commitManifestPath, recoverCommit } from '../sinks/commit.js';
import { runRounds, type EntityRun } from './export-run.js';
import { checkDistinctPaths } from '../settings/paths.js';
import {
  checkSummaryNotStateFile,
  checkSummaryPath,
  exportSummary,
  exportSummaryState,
  withSummary,
  type ExportSummaryState,
} from './summary.js';
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
  /**
   * Complete rounds of users and groups listed in parallel partitions: `auto` (the default) or N requests
   * in flight (1 = the sequential delta round).
   */
  parallel?: number | 'auto';
  /** Move the connection's cookies even when the run is not its scheduled run (`--output -`, another mapping). */
  advanceCookies?: boolean;
  /** `--max-deletes N|P%|off`: over the settings' `ExportMaxDeletes` and the default 500. */
  maxDeletes?: string;
  /** Pass the delete threshold this once. */
  force?: boolean;
  /** Exact changes against the connection's snapshot, whatever the round's mode. */
  diff?: boolean;
  /** `--summary FILE`: one JSON document of the run, written when it ends (`-`: stdout, not with `--output -`). */
  summary?: string;
}

/** A cookie older than this gets a warning: Graph forgets delta state after 7 days. */
export const COOKIE_WARN_DAYS = 5;

/** `--demo`'s connection name and default folder: never a real connection's files. */
export const DEMO_CONNECTION = 'Demo';
export const DEMO_OUTPUT = 'DemoOutput';

/**
 * Test hook: `ENTRA_TEST_KILL_AT_COMMIT_STEP=k` kills the process (SIGKILL) at the k-th step of the
 * commit (each write and rename, before and after), naming the step on stderr first. The kill tests
 * use it to stop a child process at an exact point, not at a time.
 */
function killAtCommitStep(env: NodeJS.ProcessEnv): { onCommitStep: (label: string) => void } | undefined {
  const at = Number(env.ENTRA_TEST_KILL_AT_COMMIT_STEP);
  if (!Number.isInteger(at) || at < 1) return undefined;
  let n = 0;
  return {
    onCommitStep: (label) => {
      if (++n !== at) return;
      writeSync(2, `entra: test: killed at commit step ${n} (${label})\n`);
      process.kill(process.pid, 'SIGKILL');
    },
  };
}

/**
 * Test hooks of resumable rounds: `ENTRA_TEST_CHECKPOINT_PAGES=n` checkpoints every n pages;
 * `ENTRA_TEST_KILL_AT_CHECKPOINT=k` kills the process (SIGKILL) right after its k-th checkpoint;
 * `ENTRA_TEST_KILL_AT_PAGE=k` right after the k-th page is written (a checkpoint or not).
 */
function checkpointHooks(env: NodeJS.ProcessEnv): {
  checkpointPages?: number;
  onCheckpoint?: (n: number) => void;
  onPageWritten?: (n: number) => void;
} {
  const pages = Number(env.ENTRA_TEST_CHECKPOINT_PAGES);
  const killer = (value: string | undefined, what: string) => {
    const at = Number(value);
    if (!Number.isInteger(at) || at < 1) return undefined;
    return (n: number) => {
      if (n !== at) return;
      writeSync(2, `entra: test: killed after ${what} ${n}\n`);
      process.kill(process.pid, 'SIGKILL');
    };
  };
  const onCheckpoint = killer(env.ENTRA_TEST_KILL_AT_CHECKPOINT, 'checkpoint');
  const onPageWritten = killer(env.ENTRA_TEST_KILL_AT_PAGE, 'page');
  return {
    ...(Number.isInteger(pages) && pages >= 1 ? { checkpointPages: pages } : {}),
    ...(onCheckpoint ? { onCheckpoint } : {}),
    ...(onPageWritten ? { onPageWritten } : {}),
  };
}

/** The process streams of a run; tests pass their own. */
export interface ExportIo {
  stdout?: Writable;
  stderr?: ProgressStream;
  /** Interval of the plain progress line without a TTY (default 10 s). */
  progressIntervalMs?: number;
  /** Settings already read (several connections: read once, see multi-commands.ts). */
  settings?: { layers: SettingsLayer[]; file: string };
}

/**
 * `entra export`: one delta round per entity, streamed through the router into one CSV per table,
 * renamed into place only when the whole run succeeded; cookies written last.
 */
export async function exportCommand(
  args: ExportArgs,
  env: NodeJS.ProcessEnv = process.env,
  io: ExportIo = {},
  sum?: ExportSummaryState,
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const log = stderrLogger(args, stderr);
  if (args.summary !== undefined && !sum) {
    // Checked before anything runs; then the run writes it whatever happens (see summary.ts).
    await checkSummaryPath(args.summary, args.output === '-' ? 'rows (--output -)' : undefined);
    await checkDistinctPaths([
      ...(!args.demo
        ? [{ option: '--settings', path: args.settings ?? 'appsettings.agent.json', role: 'in' as const }]
        : []),
      ...(args.mapping ? [{ option: '--mapping', path: args.mapping, role: 'in' as const }] : []),
      ...(args.ca ? [{ option: '--ca', path: args.ca, role: 'in' as const }] : []),
      { option: '--summary', path: args.summary, role: 'out' },
    ]);
    const state = exportSummaryState();
    return withSummary(
      {
        path: args.summary,
        command: 'export',
        stdout,
        warn: (m) => log.warn(m),
        refused: () => state.refused === true,
      },
      () => exportCommand(args, env, io, state),
      () => exportSummary(state),
    );
  }
  const { mapping, output } = await exportOptions({
    ...args,
    ...(args.demo && args.output === undefined ? { output: DEMO_OUTPUT } : {}),
  });
  await checkExportPaths({
    ...('dir' in output ? { output: output.dir } : {}),
    ...(!args.demo ? { cookies: args.cookies ?? 'ExportCookies' } : {}),
  });
  // A bad --max-deletes is a usage error before anything runs.
  resolveThreshold({ flag: args.maxDeletes });
  const ca = args.ca !== undefined ? await readCaFile(args.ca) : undefined;

  let demo: Emulator | undefined;
  let layers: SettingsLayer[];
  let settingsFile: string;
  if (args.demo) {
    // Loaded only for --demo: the emulator (and its certificate tooling) has no place in a real run.
    const { startDemo } = await import('./demo.js');
    demo = await startDemo(log);
    // The demo is a connection of its own: its own name and folder, and no state (its tenant is new
    // at each run, so cookies could never be replayed); a real connection's files stay untouched.
    layers = [flattenJson(demo.settings(DEMO_CONNECTION), 'demo tenant')];
    settingsFile = 'demo tenant';
  } else
    ({ layers, file: settingsFile } =
      io.settings ??
      (await settingsLayers(args, env, {
        logger: log,
        ...(ca ? { ca } : {}),
      })));
  try {
    const { settings, client, tokens } = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...((demo?.caPem ?? ca) ? { ca: demo?.caPem ?? ca } : {}),
      logger: log,
      settingsFile,
      env,
      // Enough sockets for the requests `--parallel` keeps in flight.
      maxSockets: typeof args.parallel === 'number' ? Math.max(16, args.parallel * 2) : 64,
    });
    const cookieDir = demo && 'dir' in output ? output.dir : resolve(args.cookies ?? 'ExportCookies');
    if (sum) {
      Object.assign(sum, { connection: settings.name, output: 'dir' in output ? output.dir : '-' });
      Object.assign(sum, { cookieDir: demo ? undefined : cookieDir, demo: !!demo, diff: !!args.diff });
      sum.stats = client.stats;
      await checkSummaryNotStateFile(
        args.summary,
        settings.name,
        [
          ...('dir' in output ? [{ option: '--output', dir: output.dir }] : []),
          { option: '--cookies', dir: cookieDir },
        ],
        sum,
      );
    }
    let lock: RunLock | undefined;
    try {
      // Credentials first: a refused secret fails the run before any file is touched.
      await tokens.getToken();
      if (!demo) {
        await mkdir(cookieDir, { recursive: true });
        lock = await acquireLock(connectionLockPath(cookieDir, settings.name), {
          command: `entra export (connection ${settings.name})`,
          onStale: (holder) => log.warn(`took over the lock of a run that is gone (${holder})`),
        });
        // A run killed while moving its files into place is undone first, before cookies are read.
        const snapshotFile = snapshotPath(cookieDir, settings.name);
        const recovered = await recoverCommit(commitManifestPath(cookieDir, settings.name), {
          isCommitted: (run) => committedRun(snapshotFile) === run,
        });
        if (recovered === 'rolled back')
          log.warn(
            'a run killed while moving its files into place was undone: this run repeats its round, nothing is lost',
          );
      }
      const rounds: EntityRun[] = mapping.entities.map((m) => ({
        entity: m.entity,
        select: selectQuery(m),
        mode: 'complete',
        objects: 0,
        pages: 0,
      }));
      const scheduled = demo ? undefined : await readScheduledState(cookieDir, settings.name);
      const plan = planState({
        rounds,
        scheduled,
        output: 'dir' in output ? output.dir : '-',
        advanceCookies: args.advanceCookies === true,
        demo: demo !== undefined,
      });
      if (!demo && !args.ignoreCookies)
        for (const run of rounds) {
          const cookie = await readCookie({
            dir: cookieDir,
            connection: settings.name,
            entity: run.entity,
            select: run.select,
            tenantId: settings.tenantId,
            graphUrl: settings.graphUrl,
            now: new Date(),
          });
          if (cookie.status === 'ok') {
            run.mode = 'incremental';
            run.cookie = cookie.deltaLink;
            const made = Date.parse(scheduled?.cookies.get(run.entity)?.createdAt ?? '');
            const days = (Date.now() - made) / 86_400_000;
            if (sum && Number.isFinite(days)) sum.cookieAgeDays[run.entity] = Math.round(days * 100) / 100;
            if (days > COOKIE_WARN_DAYS)
              log.warn(
                `${run.entity}: the cookie is ${days.toFixed(1)} days old; Graph forgets it after 7 days, and the round after that is a complete one (export more often)`,
              );
          } else if (cookie.status === 'unusable')
            log.warn(`${run.entity}: cookie not used (${cookie.reason}); running a complete round`);
        }
      const threshold = resolveThreshold({
        flag: args.maxDeletes,
        setting: settings.exportMaxDeletes,
        force: args.force,
      });
      if (threshold.forced) log.info(`entra export: --force: ${threshold.source} not applied this once`);
      if (sum) Object.assign(sum, { rounds, threshold, advance: plan.advance, keepReason: plan.reason });
      const limit = threshold.limit;
      let snapshot: Snapshot | undefined;
      if (args.diff) {
        const file = snapshotPath(cookieDir, settings.name);
        // Only the scheduled run keeps a snapshot; others diff against the connection's, if it has one.
        snapshot = new Snapshot(demo || (!plan.advance && !existsSync(file)) ? undefined : file);
        for (const run of rounds) {
          if (run.mode !== 'incremental') continue;
          const inStep = snapshot.inStep(run.entity, run.select, run.cookie!);
          if (inStep === true) continue;
          log.warn(`${run.entity}: ${inStep}; running a complete round for --diff`);
          run.mode = 'complete';
          delete run.cookie;
        }
      }
      const startedAt = new Date();
      try {
        return await runRounds({
          threshold,
          ...(limit && 'percent' in limit && !demo
            ? { deleteBase: snapshotObjectCount(cookieDir, settings.name) ?? 0 }
            : {}),
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
          advance: plan.advance,
          ...(plan.reason ? { keepReason: plan.reason, keepWarn: plan.warn === true } : {}),
          ...(killAtCommitStep(env) ?? {}),
          ...checkpointHooks(env),
          ...(args.parallel ? { parallel: args.parallel } : {}),
          // Tests: `auto` partitions even a small tenant on a fast link; partitions' lists in small pages.
          ...(env.ENTRA_TEST_PARALLEL_AUTO_ALWAYS === '1'
            ? { autoThresholds: { minObjects: 1, minLatencyMs: 0 } }
            : {}),
          ...(Number(env.ENTRA_TEST_PARALLEL_PAGE) >= 1
            ? { parallelPageSize: Number(env.ENTRA_TEST_PARALLEL_PAGE) }
            : {}),
          progress: {
            stream: stderr,
            enabled: !args.quiet && (args.progress === true || stderr.isTTY === true),
            ...(io.progressIntervalMs ? { intervalMs: io.progressIntervalMs } : {}),
          },
          ...(snapshot ? { snapshot } : {}),
          ...(sum ? { report: sum.report } : {}),
        });
      } catch (error) {
        // A scheduled run that failed says so in the connection's run record (`entra state`).
        if (plan.advance && !demo)
          await recordFailedRun(cookieDir, settings.name, {
            startedAt: startedAt.toISOString(),
            endedAt: new Date().toISOString(),
            exit: error instanceof ToolError ? error.exitCode : EXIT.failure,
            error: error instanceof ToolError ? error.code : 'ERR_INTERNAL',
            modes: Object.fromEntries(rounds.map((r) => [r.entity, r.mode])),
            rows: {},
            pages: 0,
            diff: args.diff === true,
            output: 'dir' in output ? output.dir : '-',
          }).catch(() => undefined);
        throw error;
      } finally {
        snapshot?.rollback();
      }
    } finally {
      await lock?.release();
      client.close();
    }
  } finally {
    await demo?.close();
  }
}
