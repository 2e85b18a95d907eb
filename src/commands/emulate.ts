import { rmSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseFaultSpec } from '../emulator/faults.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../emulator/server.js';
import { readTenantFile } from '../emulator/tenant.js';
import {
  checkCredentialFlags,
  prepareCredentials,
  setUpCredentials,
  type CredentialFlags,
  type CredentialSetup,
} from './emulate-credentials.js';
import { checkOutputFile, checkOutputFolder } from '../settings/paths.js';
import { connectionNameProblem } from '../settings/settings.js';
import { sampleTenantPath } from './package-root.js';
import { stderrLogger, type CommonOptions } from './process-io.js';

export interface EmulateArgs extends CommonOptions, CredentialFlags {
  port?: number;
  tenant?: string;
  users?: number;
  groups?: number;
  seed?: number;
  latency?: number;
  jitter?: number;
  faults?: string;
  throttle?: boolean;
  caOut?: string;
  pageSize?: number;
}

/** The whole-number options of `entra emulate` and their ranges. */
const RANGES: [keyof EmulateArgs, string, number, number][] = [
  ['port', '--port', 0, 65_535],
  ['users', '--users', 0, 10_000_000],
  ['groups', '--groups', 0, 1_000_000],
  ['seed', '--seed', 0, 2 ** 32 - 1],
  ['latency', '--latency', 0, 600_000],
  ['jitter', '--jitter', 0, 600_000],
  ['pageSize', '--page-size', 1, 100_000],
];

/**
 * Checks every value of the command line before anything starts or is written: numbers in range,
 * a connection name usable in file names, output paths that can be written (exit 2 otherwise).
 */
export async function checkEmulateArgs(args: EmulateArgs): Promise<void> {
  for (const [key, option, min, max] of RANGES) {
    const value = args[key];
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max)
      throw new UsageError(
        'ERR_USAGE',
        `${option} must be a whole number from ${min} to ${max}, got ${String(value)}`,
      );
  }
  if (args.tenant === '') throw new UsageError('ERR_USAGE', '--tenant needs a tenant JSON file');
  if (args.connection !== undefined) {
    const problem = connectionNameProblem(args.connection);
    if (problem)
      throw new UsageError(
        'ERR_USAGE',
        `--connection '${JSON.stringify(args.connection).slice(1, -1)}' ${problem}`,
      );
  }
  checkCredentialFlags(args);
  // Like the folders of --certificate-out, those of these files are created when missing.
  for (const [option, path] of [
    ['--settings-out', args.settingsOut],
    ['--ca-out', args.caOut],
    ['--federated-token-out', args.federatedTokenOut],
  ] as const)
    if (path !== undefined) await checkOutputFile(option, path, { createFolder: true });
  for (const [option, path] of [
    ['--certificate-out', args.certificateOut],
    ['--cyberark', args.cyberark],
  ] as const)
    if (path !== undefined) await checkOutputFolder(option, path);
}

/** Builds emulator options from the command line, with clear usage errors. */
export async function emulatorOptions(args: EmulateArgs): Promise<EmulatorOptions> {
  if (args.tenant && (args.users !== undefined || args.groups !== undefined))
    throw new UsageError(
      'ERR_USAGE',
      '--tenant cannot be combined with --users/--groups: pick a tenant file or a generated tenant',
    );
  const options: EmulatorOptions = { throttle: args.throttle ?? true };
  if (args.port !== undefined) options.port = args.port;
  if (args.users !== undefined || args.groups !== undefined) {
    options.generate = { users: args.users ?? 0, groups: args.groups ?? 0, seed: args.seed ?? 1 };
  } else {
    const path = args.tenant ? resolve(args.tenant) : sampleTenantPath();
    try {
      options.tenant = await readTenantFile(path);
    } catch (e) {
      throw new UsageError('ERR_USAGE', `cannot read tenant file ${path}: ${(e as Error).message}`, {
        cause: e,
      });
    }
  }
  if (args.latency !== undefined || args.jitter !== undefined)
    options.latency = { fixedMs: args.latency ?? 0, jitterMs: args.jitter ?? 0 };
  if (args.faults) {
    try {
      options.faults = parseFaultSpec(args.faults);
    } catch (e) {
      throw new UsageError('ERR_USAGE', `--faults: ${(e as Error).message}`);
    }
  }
  if (args.pageSize !== undefined) options.deltaLimits = { objects: args.pageSize };
  return options;
}

/** A running `entra emulate`: the emulator, the JSON line it prints, and how to stop it. */
export interface RunningEmulator {
  emu: Emulator;
  /** The JSON line's fields: url, tenantId, clientId, clientSecret, caFile, and what the flags added. */
  info: Record<string, unknown>;
  /** Files written besides the CA (settings, agent file). */
  written: string[];
  /** The temp folder of the CA without --ca-out, removed by close(). */
  temporary: string | undefined;
  /** Stops the emulator and its credential helpers, and removes the temp folder. */
  close(): Promise<void>;
}

/**
 * Starts the emulator of `entra emulate` and writes what the flags ask for (CA, settings, credentials);
 * `overrides` are for tests (shared keys, throttling off).
 */
export async function startEmulate(
  args: EmulateArgs,
  overrides: Partial<EmulatorOptions> = {},
): Promise<RunningEmulator> {
  await checkEmulateArgs(args);
  const prepared = prepareCredentials(args);
  const emu = await startEmulator({
    ...(await emulatorOptions(args)),
    ...prepared.options,
    ...overrides,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EADDRINUSE')
      throw new UsageError('ERR_USAGE', `--port ${args.port}: in use; pick another, or leave --port out`);
    if (error.code === 'EACCES')
      throw new UsageError(
        'ERR_USAGE',
        `--port ${args.port}: permission denied (ports below 1024 need privileges)`,
      );
    throw error;
  });
  let setup: CredentialSetup | undefined;
  // Without --ca-out the CA goes to a private temp folder of this run, removed when it stops.
  let tempDir: string | undefined;
  const removeTemp = async () => {
    if (tempDir) await rm(tempDir, { recursive: true, force: true });
    tempDir = undefined;
  };
  try {
    setup = await setUpCredentials(emu, args, prepared);
    if (!args.caOut) tempDir = await mkdtemp(join(tmpdir(), 'entra-emulator-'));
    const caFile = resolve(args.caOut ?? join(tempDir!, 'ca.pem'));
    await mkdir(dirname(caFile), { recursive: true });
    await writeFile(caFile, emu.caPem);
    const written = args.settingsOut ? await setup.writeSettings(args.settingsOut, caFile) : [];
    const info = {
      url: emu.url,
      tenantId: emu.tenantId,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      caFile,
      ...setup.info,
    };
    const { stop } = setup;
    return {
      emu,
      info,
      written,
      temporary: tempDir,
      close: async () => {
        stop();
        await emu.close();
        await removeTemp();
      },
    };
  } catch (error) {
    setup?.stop();
    await emu.close();
    await removeTemp();
    throw error;
  }
}

/**
 * `entra emulate`: serves the emulated tenant until SIGINT/SIGTERM/SIGHUP. Prints one JSON line on stdout
 * (url, tenantId, clientId, clientSecret, caFile, and what the credential flags added) and writes the
 * CA and, on request, a ready appsettings.agent.json and the credential files.
 */
export async function emulate(args: EmulateArgs): Promise<number> {
  const log = stderrLogger(args);
  const started = performance.now();
  // Listening before the JSON line goes out: whoever reads it may stop us at once.
  // SIGHUP: the terminal it ran in was closed, the usual end of an emulator started by hand.
  const stopped = new Promise<NodeJS.Signals>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
    process.once('SIGHUP', () => done('SIGHUP'));
  });
  const running = await startEmulate(args);
  // The last resort should the process end another way (an uncaught error): no CA left in temp.
  const { temporary } = running;
  const removeOnExit = () => {
    if (temporary) rmSync(temporary, { recursive: true, force: true });
  };
  process.once('exit', removeOnExit);
  const { emu, info } = running;
  process.stdout.write(`${JSON.stringify(info)}\n`);
  const users = emu.tenant.store.count('user');
  log.info(
    `entra emulate: serving ${users} users on ${emu.url} (ready in ${((performance.now() - started) / 1000).toFixed(1)} s); ` +
      `trust ${String(info.caFile)} with NODE_EXTRA_CA_CERTS; Ctrl-C to stop`,
  );
  for (const line of describeCredentials(running, args.connection ?? 'Contoso'))
    log.info(`entra emulate: ${line}`);
  const signal = await stopped;
  await running.close();
  process.off('exit', removeOnExit);
  // A closed terminal takes stderr with it: nothing more to say there.
  if (signal === 'SIGHUP') return 129;
  log.info(`entra emulate: stopped (${signal})`);
  return signal === 'SIGINT' ? 130 : 0;
}

/** One stderr line per credential the flags set up (paths and names, never a secret). */
function describeCredentials({ info, written }: RunningEmulator, connection: string): string[] {
  const lines: string[] = [];
  const cert = info.certificate as { pem: string; pfx: string; passwordFile: string } | undefined;
  if (cert)
    lines.push(
      `certificate credential registered on the app: ${cert.pem} (PEM, certificate and key), ${cert.pfx} (PFX, its password in ${cert.passwordFile})`,
    );
  const federated = info.federatedToken as { file: string } | undefined;
  if (federated)
    lines.push(
      `federated credential registered on the app: ${federated.file} holds an assertion valid 1 hour, rewritten every 30 minutes while the emulator runs`,
    );
  if (info.IDENTITY_ENDPOINT)
    lines.push(
      `managed identity ${info.managedIdentityClientId as string} at ${info.IDENTITY_ENDPOINT as string}: set IDENTITY_ENDPOINT and IDENTITY_HEADER from the JSON line`,
    );
  if (info.keyVault)
    lines.push(
      `Azure Key Vault ${info.keyVault as string} holds the app's secret as Connections--${connection}--ApplicationKey`,
    );
  const ccp = info.cyberArk as { server: string; object: string; clientCertificate: string } | undefined;
  if (ccp)
    lines.push(
      `CyberArk CCP on ${ccp.server} (mutual TLS) holds the app's secret in object ${ccp.object}; client certificate ${ccp.clientCertificate}`,
    );
  // Without credential flags the output stays what it always was.
  if (lines.length && written.length) lines.push(`wrote ${written.join(', ')}`);
  return lines;
}
