/**
 * Fulfillment against an emulated tenant: a command CSV that adds two members to a group and updates a
 * user, sent as one `$batch`, with one result row per input row on stdout
 * (`node --import tsx samples/fulfill-members.ts`).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fulfillCommand, readTenantFile, startEmulator } from '../src/index.js';

const dir = await mkdtemp(join(tmpdir(), 'entra-sample-'));
const emu = await startEmulator({
  tenant: await readTenantFile(new URL('tenant.json', import.meta.url).pathname),
});
try {
  await writeFile(join(dir, 'appsettings.agent.json'), JSON.stringify(emu.settings('Contoso')), {
    mode: 0o600,
  });
  await writeFile(join(dir, 'ca.pem'), emu.caPem);
  const id = (name: string) =>
    [...emu.tenant.list('user'), ...emu.tenant.list('group')].find((o) => o.data.displayName === name)!.id;
  await writeFile(
    join(dir, 'Contoso_members_group.csv'),
    `Command,groupId,id\ninsert,${id('Engineering')},${id('Adele Vance')}\ninsert,${id('Engineering')},${id('Megan Bowen')}\n`,
  );
  await writeFile(
    join(dir, 'Contoso_directoryobjects.csv'),
    `Command,@odata.type,id,jobTitle\nupdate,#microsoft.graph.user,${id('Adele Vance')},Chief Retail Officer\n`,
  );
  // Relative names, so that the results' `file` column reads as the user typed them.
  process.chdir(dir);
  process.exitCode = await fulfillCommand({
    settings: 'appsettings.agent.json',
    ca: 'ca.pem',
    files: ['Contoso_members_group.csv', 'Contoso_directoryobjects.csv'],
    quiet: true,
  });
} finally {
  process.chdir(tmpdir());
  await emu.close();
  await rm(dir, { recursive: true, force: true });
}
