import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { parseFaultSpec } from '../emulator/faults.js';
import { startEmulator, type EmulatorOptions } from '../emulator/server.js';
import { readTenantFile } from '../emulator/tenant.js';
import { sampleTenantPath } from './package-root.js';
import { stderrLogger, type CommonOptions } from './process-io.js';

export interface EmulateArgs extends CommonOptions {
  port?: number;
  tenant?: string;
  users?: number;
  groups?: number;
  seed?: number;
  latency?: number;
  jitter?: number;
  faults?: string;
  throttle?: boolean;
  settingsOut?: string;
  caOut?: string;
  connection?: string;
  pageSize?: number;
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

/**
 * `entra emulate`: serves the emulated tenant until SIGINT/SIGTERM. Prints one JSON line on stdout
 * (url, tenantId, clientId, clientSecret, caFile) and writes the CA and, on request, a ready
 * appsettings.agent.json.
 */
export async function emulate(args: EmulateArgs): Promise<number> {
  const log = stderrLogger(args);
  const started = performance.now();
  const emu = await startEmulator(await emulatorOptions(args));
  const port = new URL(emu.url).port;
  const caFile = resolve(args.caOut ?? join(tmpdir(), `entra-emulator-${port}-ca.pem`));
  await writeFile(caFile, emu.caPem);
  if (args.settingsOut)
    await writeFile(
      resolve(args.settingsOut),
      `${JSON.stringify(emu.settings(args.connection), null, 2)}\n`,
      { mode: 0o600 },
    );
  process.stdout.write(
    `${JSON.stringify({ url: emu.url, tenantId: emu.tenantId, clientId: emu.clientId, clientSecret: emu.clientSecret, caFile })}\n`,
  );
  const users = emu.tenant.store.count('user');
  log.info(
    `entra emulate: serving ${users} users on ${emu.url} (ready in ${((performance.now() - started) / 1000).toFixed(1)} s); ` +
      `trust ${caFile} with NODE_EXTRA_CA_CERTS; Ctrl-C to stop`,
  );
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
  await emu.close();
  log.info(`entra emulate: stopped (${signal})`);
  return signal === 'SIGINT' ? 130 : 0;
}
