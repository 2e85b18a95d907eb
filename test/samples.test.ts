import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'csv-parse/sync';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { readTenantFile } from '../src/emulator/tenant.js';
import { readMappingFile, resolveMapping } from '../src/settings/mapping.js';
import {
  environmentLayer,
  flattenJson,
  readSettingsFile,
  resolveConnection,
} from '../src/settings/settings.js';
import { runEntra } from './helpers/cli.js';
import { sampleTenant, withEmulator } from './helpers/emulator.js';

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

/**
 * The command line of a scheduler sample, run against the emulator: `paths` maps the sample's
 * folders to temp folders; the secret comes from the environment variable `secretVariable`, as the
 * scheduler gives it.
 */
async function runScheduled(
  command: string[],
  paths: Record<string, string>,
  settingsFile: string,
  secretVariable: string,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'entra-scheduled-'));
  try {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const at = (path: string) =>
        Object.entries(paths).reduce((p, [from, to]) => p.replace(from, join(dir, to)), path);
      const settings = emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } };
      const secret = settings.Connections.Contoso.ApplicationKey!;
      delete settings.Connections.Contoso.ApplicationKey;
      await mkdir(dirname(at(settingsFile)), { recursive: true });
      await writeFile(at(settingsFile), JSON.stringify(settings));
      await writeFile(join(dir, 'ca.pem'), emu.caPem);
      const r = await runEntra([...command.map(at), '--ca', join(dir, 'ca.pem')], {
        cwd: dir,
        env: { [secretVariable]: secret },
      });
      assert.is(r.code, 0, r.stderr);
      const out = command[command.indexOf('--output') + 1]!;
      const cookies = command[command.indexOf('--cookies') + 1]!;
      assert.ok((await readdir(at(out))).includes('Contoso_directoryobjects.csv'));
      assert.ok((await readdir(at(cookies))).some((f) => f.startsWith('Contoso_cookie_user')));
    });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The README shows `name` whole: the two must not drift apart. */
async function inReadme(name: string): Promise<string> {
  const text = await readFile(join(samples, name), 'utf8');
  const readme = await readFile(join(root, 'README.md'), 'utf8');
  assert.ok(readme.includes(text), `README shows samples/${name}`);
  return text;
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
  'entra-export-cronjob.yaml': async () => {
    const text = await inReadme('entra-export-cronjob.yaml');
    assert.match(text, /^ {2}concurrencyPolicy: Forbid$/m);
    const args = /^ {14}args:\n((?: {16}- .*\n)+)/m
      .exec(text)![1]!
      .trimEnd()
      .split('\n')
      .map((l) => l.replace(/^ {16}- /, ''));
    const secretVariable = /^ {2}(Connections__Contoso__ApplicationKey): /m.exec(text)![1]!;
    // The ConfigMap's settings and the Secret's variable make a connection.
    const json = /^ {2}appsettings\.agent\.json: \|\n((?: {4}.*\n)+)/m.exec(text)![1]!.replace(/^ {4}/gm, '');
    const c = resolveConnection([
      flattenJson(JSON.parse(json), 'ConfigMap'),
      environmentLayer({ [secretVariable]: 'from the Secret' }),
    ]);
    assert.is(c.name, 'Contoso');
    assert.is(c.applicationKey, 'from the Secret');
    await runScheduled(
      args,
      { '/config': 'config', '/data': 'data' },
      '/config/appsettings.agent.json',
      secretVariable,
    );
  },
  'entra-export@.service': async () => {
    const text = await inReadme('entra-export@.service');
    assert.match(text, /^EnvironmentFile=\/etc\/entra\/%i\.env$/m);
    assert.match(text, /^Type=oneshot$/m);
    const [, ...command] = /^ExecStart=(.*)$/m.exec(text)![1]!.replaceAll('%i', 'Contoso').split(' ');
    await runScheduled(
      command,
      { '/etc/entra': 'etc', '/var/lib/entra': 'var' },
      '/etc/entra/appsettings.agent.json',
      'Connections__Contoso__ApplicationKey',
    );
  },
  'entra-export@.timer': async () => {
    const text = await inReadme('entra-export@.timer');
    // A template timer starts the service instance of its own name: entra-export@Contoso.service.
    assert.match(text, /^\[Timer\]\nOnCalendar=\S+\n/m);
    assert.match(text, /^Persistent=true$/m);
    assert.match(text, /^\[Install\]\nWantedBy=timers\.target$/m);
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
