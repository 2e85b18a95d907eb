import { execFile } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTenantFile } from '../src/emulator/tenant.js';
import { readMappingFile, resolveMapping } from '../src/settings/mapping.js';
import { readSettingsFile, resolveConnection } from '../src/settings/settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const samples = join(root, 'samples');

const Samples = suite('samples');

Samples('samples/mapping.json and samples/mapping.xml are valid mappings', async () => {
  const json = resolveMapping({ file: await readMappingFile(join(samples, 'mapping.json')) });
  assert.equal(
    json.entities.map((e) => e.entity),
    ['user', 'group', 'directoryRole'],
  );
  const xml = resolveMapping({ file: await readMappingFile(join(samples, 'mapping.xml'), 'Contoso') });
  assert.equal(
    xml.entities.map((e) => e.entity),
    ['user', 'group', 'directoryRole', 'servicePrincipal'],
  );
  assert.ok(xml.entities.find((e) => e.entity === 'group')!.navigations.includes('members'));
});

Samples('samples/appsettings.agent.json resolves to a certificate connection', async () => {
  const c = resolveConnection([await readSettingsFile(join(samples, 'appsettings.agent.json'))]);
  assert.is(c.name, 'Contoso');
  assert.is(c.certificatePath, 'certs/entra-connector.pfx');
  assert.is(c.authority, 'https://login.microsoftonline.com/contoso.onmicrosoft.com');
});

Samples('samples/tenant.json loads', async () => {
  const t = await readTenantFile(join(samples, 'tenant.json'));
  assert.ok((t.users?.length ?? 0) > 10 && (t.groups?.length ?? 0) > 5);
});

Samples(
  'samples/export-incremental.ts runs against the emulator and prints the incremental round',
  async () => {
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', 'samples/export-incremental.ts'],
      {
        cwd: root,
        env: { ...process.env, NODE_OPTIONS: '' },
      },
    );
    const lines = stdout.trimEnd().split('\n');
    assert.is(lines.length, 2, stdout);
    assert.match(lines[1]!, /^update,#microsoft\.graph\.user,.*Chief Retail Officer/);
  },
);

Samples.run();
