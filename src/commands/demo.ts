import { startEmulator, type Emulator } from '../emulator/server.js';
import { readTenantFile } from '../emulator/tenant.js';
import type { Logger } from '../types.js';
import { sampleTenantPath } from './package-root.js';

/** `--demo`: the sample tenant, emulated in-process, trusted through its own CA (never by disabling TLS checks). */
export async function startDemo(log: Logger): Promise<Emulator> {
  const emu = await startEmulator({ tenant: await readTenantFile(sampleTenantPath()) });
  log.info(`entra: --demo: emulated sample tenant ${emu.tenantId} on ${emu.url}`);
  return emu;
}
