/**
 * A complete export, a change in the tenant, then an incremental export, against an emulated tenant:
 * the library pieces a program can use (`node --import tsx samples/export-incremental.ts`).
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportCommand, readTenantFile, startEmulator } from '../src/index.js';

const dir = await mkdtemp(join(tmpdir(), 'entra-sample-'));
const emu = await startEmulator({
  tenant: await readTenantFile(new URL('tenant.json', import.meta.url).pathname),
});
try {
  await writeFile(join(dir, 'appsettings.agent.json'), JSON.stringify(emu.settings('Contoso')), {
    mode: 0o600,
  });
  await writeFile(join(dir, 'ca.pem'), emu.caPem);
  const args = {
    settings: join(dir, 'appsettings.agent.json'),
    ca: join(dir, 'ca.pem'),
    output: join(dir, 'out'),
    cookies: join(dir, 'cookies'),
    entities: ['user'],
    quiet: true,
  };
  await exportCommand(args);
  const adele = emu.tenant.list('user').find((u) => u.data.displayName === 'Adele Vance')!;
  emu.tenant.update(adele.id, { jobTitle: 'Chief Retail Officer' });
  await exportCommand(args);
  process.stdout.write(await readFile(join(dir, 'out', 'Contoso_directoryobjects.csv'), 'utf8'));
} finally {
  await emu.close();
  await rm(dir, { recursive: true, force: true });
}
