import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTenantFile } from '../src/emulator/tenant.js';
import { readMappingFile, resolveMapping } from '../src/settings/mapping.js';
import { readSettingsFile, resolveConnection } from '../src/settings/settings.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const samples = join(root, 'samples');

/** Runs a sample program as a user would, and returns its stdout. */
async function runSample(name: string): Promise<string> {
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', `samples/${name}`], {
    cwd: root,
    env: { ...process.env, NODE_OPTIONS: '' },
  });
  return stdout;
}

/** One check per file of samples/: a sample without one fails the suite, so no example can rot. */
const checks: Record<string, () => Promise<void>> = {
  'mapping.json': async () => {
    const json = resolveMapping({ file: await readMappingFile(join(samples, 'mapping.json')) });
    assert.equal(
      json.entities.map((e) => e.entity),
      ['user', 'group', 'directoryRole'],
    );
  },
  'mapping.xml': async () => {
    const xml = resolveMapping({ file: await readMappingFile(join(samples, 'mapping.xml'), 'Contoso') });
    assert.equal(
      xml.entities.map((e) => e.entity),
      ['user', 'group', 'directoryRole', 'servicePrincipal'],
    );
    assert.ok(xml.entities.find((e) => e.entity === 'group')!.navigations.includes('members'));
  },
  'appsettings.agent.json': async () => {
    const c = resolveConnection([await readSettingsFile(join(samples, 'appsettings.agent.json'))]);
    assert.is(c.name, 'Contoso');
    assert.is(c.certificatePath, 'certs/entra-connector.pfx');
    assert.is(c.authority, 'https://login.microsoftonline.com/contoso.onmicrosoft.com');
  },
  'tenant.json': async () => {
    const t = await readTenantFile(join(samples, 'tenant.json'));
    assert.ok((t.users?.length ?? 0) > 10 && (t.groups?.length ?? 0) > 5);
  },
  'export-incremental.ts': async () => {
    const stdout = await runSample('export-incremental.ts');
    const lines = stdout.trimEnd().split('\n');
    assert.is(lines.length, 2, stdout);
    assert.match(lines[1]!, /^update,#microsoft\.graph\.user,.*Chief Retail Officer/);
  },
  'export-custom-sink.ts': async () => {
    const lines = (await runSample('export-custom-sink.ts')).trimEnd().split('\n');
    const tenant = await readTenantFile(join(samples, 'tenant.json'));
    assert.is(lines.filter((l) => l.startsWith('directoryobjects insert ')).length, tenant.groups!.length);
    assert.ok(lines.some((l) => /^members_group insert [0-9a-f-]{36}$/.test(l)));
    assert.is(lines.at(-1), 'next round from: /v1.0/groups/delta');
    // The README shows the pipeline part of this sample: the two must not drift apart.
    const text = await readFile(join(samples, 'export-custom-sink.ts'), 'utf8');
    const part = /\/\/ --- the pipeline\n([\s\S]*?)\n\s*\/\/ ---\n/.exec(text)![1]!;
    const readme = await readFile(join(root, 'README.md'), 'utf8');
    assert.ok(readme.includes(part.replace(/^ {2}/gm, '')), 'README shows samples/export-custom-sink.ts');
  },
  'fulfill-members.ts': async () => {
    const rows = parse<Record<string, string>>(await runSample('fulfill-members.ts'), { columns: true });
    assert.equal(
      rows.map((r) => `${r.file}:${r.line} ${r.Command} ${r.status}`),
      [
        'Contoso_members_group.csv:2 insert ok',
        'Contoso_members_group.csv:3 insert ok',
        'Contoso_directoryobjects.csv:2 update ok',
      ],
    );
  },
};

const Samples = suite('samples');

Samples('every file in samples/ has a check here', async () => {
  assert.equal((await readdir(samples)).sort(), Object.keys(checks).sort());
});

for (const [name, check] of Object.entries(checks)) Samples(`samples/${name} works`, check);

Samples.run();
