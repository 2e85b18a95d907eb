import { access, constants } from 'node:fs/promises';
import { UsageError } from '../errors.js';
import { readCaFile } from '../settings/ca-file.js';
import { exportOptions } from '../settings/export-options.js';
import { fulfillOptions } from '../settings/fulfill-options.js';
import { resolveThreshold } from '../settings/thresholds.js';
import { settingsLayers } from './connection.js';
import { DEMO_CONNECTION, exportCommand, type ExportArgs, type ExportIo } from './export.js';
import { fulfillCommand, type FulfillArgs, type FulfillIo } from './fulfill.js';
import {
  forConnection,
  hasPlaceholder,
  pickConnections,
  PLACEHOLDER,
  requestedConnections,
  runConnections,
  type ManyArgs,
  type ReadSettings,
} from './multi.js';
import { stderrLogger } from './process-io.js';

/**
 * `entra export` and `entra fulfill` with one connection or several (see multi.ts): the command line
 * decides, and a run of one connection is exactly the one-connection command.
 */

export type ExportManyArgs = Omit<ExportArgs, 'connection'> & ManyArgs;
export type FulfillManyArgs = Omit<FulfillArgs, 'connection'> & ManyArgs;

/** `--summary FILE`, where a command has it: one per connection, like the other outputs. */
const summaryOf = (args: object): string | undefined => {
  const summary = (args as { summary?: unknown }).summary;
  return typeof summary === 'string' ? summary : undefined;
};

async function readSettings(
  args: ExportManyArgs | FulfillManyArgs,
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
): Promise<ReadSettings> {
  const ca = args.ca !== undefined ? await readCaFile(args.ca) : undefined;
  return settingsLayers({ ...args, connection: undefined }, env, {
    logger: stderrLogger(args, stderr),
    ...(ca ? { ca } : {}),
  });
}

/** The one connection of a run whose paths say {connection}: the one named, or the only one. */
async function onlyConnection(
  args: ExportManyArgs | FulfillManyArgs,
  env: NodeJS.ProcessEnv,
  stderr: NodeJS.WritableStream,
): Promise<{ name: string; settings: ReadSettings }> {
  const settings = await readSettings(args, env, stderr);
  const named = typeof args.connection === 'string' ? [args.connection] : [];
  const names = pickConnections(named, settings);
  if (names.length > 1)
    throw new UsageError(
      'ERR_SETTINGS',
      `${names.length} connections in ${settings.file} (${names.join(', ')}): choose one with --connection, or --all`,
    );
  return { name: names[0]!, settings };
}

/** `entra export` for the connections of the command line. */
export async function exportConnections(
  args: ExportManyArgs,
  env: NodeJS.ProcessEnv = process.env,
  io: ExportIo = {},
): Promise<number> {
  const requested = requestedConnections(args);
  const stderr = io.stderr ?? process.stderr;
  const paths = (name: string) => ({
    ...(args.output !== undefined ? { output: forConnection(args.output, name) } : {}),
    ...(args.cookies !== undefined ? { cookies: forConnection(args.cookies, name) } : {}),
    ...(summaryOf(args) !== undefined ? { summary: forConnection(summaryOf(args), name) } : {}),
  });
  const placeholders = [args.output, args.cookies, summaryOf(args)].some(hasPlaceholder);
  if (requested === undefined) {
    const one = typeof args.connection === 'string' ? args.connection : undefined;
    const single = { ...args, connection: one } as ExportArgs;
    if (!placeholders) return exportCommand(single, env, io);
    if (args.demo) return exportCommand({ ...single, ...paths(DEMO_CONNECTION) }, env, io);
    const { name, settings } = await onlyConnection(args, env, stderr);
    return exportCommand({ ...single, connection: name, ...paths(name) }, env, { ...io, settings });
  }
  if (args.demo)
    throw new UsageError('ERR_USAGE', '--demo exports the built-in sample tenant: drop --connection/--all');
  if (args.output === '-')
    throw new UsageError(
      'ERR_USAGE',
      '--output - is one stream: with several connections, give a folder (files are named <connection>_<table>.csv)',
    );
  if (summaryOf(args) !== undefined && !hasPlaceholder(summaryOf(args)))
    throw new UsageError(
      'ERR_USAGE',
      `with several connections, --summary needs ${PLACEHOLDER} in its path (e.g. --summary 'summaries/${PLACEHOLDER}.json')`,
    );
  // The options every connection shares, checked once: a bad one is one usage error, not one per connection.
  resolveThreshold({ flag: args.maxDeletes });
  await exportOptions({ ...args, connection: undefined, mapping: undefined, output: 'ExportOutput' });
  const settings = await readSettings(args, env, stderr);
  const names = pickConnections(requested, settings);
  return runConnections({
    names,
    ...(args.jobs !== undefined ? { jobs: args.jobs } : {}),
    stderr,
    ...(args.quiet ? { quiet: true } : {}),
    help: 'entra export --help',
    run: (name, prefixed) =>
      exportCommand({ ...(args as ExportArgs), connection: name, ...paths(name) }, env, {
        ...io,
        stderr: prefixed,
        settings,
      }),
  });
}

/** `entra fulfill` for the connections of the command line. */
export async function fulfillConnections(
  args: FulfillManyArgs,
  env: NodeJS.ProcessEnv = process.env,
  io: FulfillIo = {},
): Promise<number> {
  const requested = requestedConnections(args);
  const stderr = io.stderr ?? process.stderr;
  const perConnection = (name: string): FulfillArgs => ({
    ...(args as FulfillArgs),
    connection: name,
    ...(args.files ? { files: args.files.map((f) => forConnection(f, name)) } : {}),
    ...(args.results !== undefined ? { results: forConnection(args.results, name) } : {}),
    ...(args.journal !== undefined ? { journal: forConnection(args.journal, name) } : {}),
    ...(args.passwordFile !== undefined ? { passwordFile: forConnection(args.passwordFile, name) } : {}),
    ...(summaryOf(args) !== undefined ? { summary: forConnection(summaryOf(args), name) } : {}),
  });
  const paths = [...(args.files ?? []), args.results, args.journal, args.passwordFile, summaryOf(args)];
  if (requested === undefined) {
    const one = typeof args.connection === 'string' ? args.connection : undefined;
    if (!paths.some(hasPlaceholder)) return fulfillCommand({ ...args, connection: one }, env, io);
    const { name, settings } = await onlyConnection(args, env, stderr);
    return fulfillCommand(perConnection(name), env, { ...io, settings });
  }
  // Each connection reads its own files and writes its own results: a path shared by all would send
  // one tenant's rows to another, or mix their results.
  const files = args.files ?? [];
  if (!files.length || files.includes('-'))
    throw new UsageError(
      'ERR_USAGE',
      `with several connections, name each input with ${PLACEHOLDER} (e.g. 'changes/${PLACEHOLDER}.csv'); stdin is one input`,
    );
  const shared = files.find((f) => !hasPlaceholder(f));
  if (shared)
    throw new UsageError(
      'ERR_USAGE',
      `with several connections, every input names its connection with ${PLACEHOLDER}: ${shared} would go to each of them`,
    );
  for (const [option, path] of [
    ['--results', args.results ?? '-'],
    ['--journal', args.journal],
    ['--password-file', args.passwordFile],
    ['--summary', summaryOf(args)],
  ] as const)
    if (path !== undefined && !hasPlaceholder(path))
      throw new UsageError(
        'ERR_USAGE',
        `with several connections, ${option} needs ${PLACEHOLDER} in its path (e.g. ${option} 'out/${PLACEHOLDER}.csv')${path === '-' ? ': stdout is one stream' : ''}`,
      );
  // The options every connection shares, checked once.
  resolveThreshold({ flag: args.maxDeletes });
  fulfillOptions(perConnection('x'), { stdinIsTTY: false });
  const settings = await readSettings(args, env, stderr);
  const names = pickConnections(requested, settings);
  // Every input is there before any connection sends anything.
  for (const name of names)
    for (const file of files.map((f) => forConnection(f, name)))
      await access(file, constants.R_OK).catch((e: NodeJS.ErrnoException) => {
        throw new UsageError(
          'ERR_USAGE',
          `connection ${name}: cannot read its input ${file}: ${e.code ?? String(e)}; nothing was sent to any connection`,
        );
      });
  return runConnections({
    names,
    ...(args.jobs !== undefined ? { jobs: args.jobs } : {}),
    stderr,
    ...(args.quiet ? { quiet: true } : {}),
    help: 'entra fulfill --help',
    run: (name, prefixed) => fulfillCommand(perConnection(name), env, { ...io, stderr: prefixed, settings }),
  });
}
