import { inspect } from 'node:util';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  environmentLayer,
  flattenJson,
  parseJsonText,
  readSettingsFile,
  resolveConnection,
  type SettingsLayer,
} from '../../src/settings/settings.js';

const fixture = (name: string) => new URL(`../fixtures/settings/${name}`, import.meta.url).pathname;

/** Runs `fn`, expecting a ToolError; returns it. */
function failure(fn: () => unknown): Error & { code: string; exitCode: number } {
  try {
    fn();
  } catch (error) {
    return error as Error & { code: string; exitCode: number };
  }
  throw new Error('expected an error');
}

async function failureAsync(fn: () => Promise<unknown>): Promise<Error & { code: string }> {
  try {
    await fn();
  } catch (error) {
    return error as Error & { code: string };
  }
  throw new Error('expected an error');
}

const APP = '11111111-2222-3333-4444-555555555555';

/** A layer from `Connections:<name>:<key>` pairs. */
function layer(origin: string, connection: string, values: Record<string, string>): SettingsLayer {
  return {
    origin,
    values: new Map(Object.entries(values).map(([k, v]) => [`Connections:${connection}:${k}`, v])),
  };
}

const base = { ApplicationId: APP, ApplicationKey: 'top-secret-42', TenantId: 'contoso.onmicrosoft.com' };

// ---

const Flatten = suite('flattenJson');

Flatten('flattenJson(json) joins nested keys with ":" and arrays by index', () => {
  const l = flattenJson({ A: { B: 'x', C: [true, 3, null], D: {} } }, 'f.json');
  assert.is(l.origin, 'f.json');
  assert.equal(
    [...l.values],
    [
      ['A:B', 'x'],
      ['A:C:0', 'true'],
      ['A:C:1', '3'],
      ['A:C:2', ''],
      ['A:D', ''],
    ],
  );
});

Flatten('flattenJson(json) refuses a secret that is not a JSON string, never quoting it', () => {
  for (const value of [12345, 1.5e3]) {
    const json = { Connections: { Contoso: { ApplicationId: 'x', ApplicationKey: value } } };
    const err = failure(() => flattenJson(json, 'f.json'));
    assert.is(err.code, 'ERR_SETTINGS');
    assert.is(
      err.message,
      'f.json: Connections:Contoso:ApplicationKey is a number: a secret must be a JSON string in double quotes (a number loses leading zeros and digits)',
    );
  }
  const pfx = { Connections: { C: { CertificatePassword: 42 } } };
  assert.match(failure(() => flattenJson(pfx, 'f.json')).message, 'CertificatePassword is a number');
  // Other keys keep .NET's reading: a number is its text.
  assert.is(flattenJson({ A: { Port: 8443 } }, 'f.json').values.get('A:Port'), '8443');
});

Flatten('flattenJson(array) fails with ERR_SETTINGS', () => {
  const err = failure(() => flattenJson([], 'f.json'));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, 'an array');
});

Flatten.run();

// ---

const Env = suite('environmentLayer');

Env('environmentLayer(env) maps Connections__X__Key to Connections:X:Key and ignores the rest', () => {
  const l = environmentLayer({
    Connections__Contoso__ApplicationKey: 'k',
    CONNECTIONS__Fabrikam__TenantId: 't',
    PATH: '/usr/bin',
    Other__Key: 'x',
    Connections__Unset: undefined,
  });
  assert.is(l.origin, 'environment');
  assert.equal(
    [...l.values],
    [
      ['Connections:Contoso:ApplicationKey', 'k'],
      ['CONNECTIONS:Fabrikam:TenantId', 't'],
    ],
  );
});

Env.run();

// ---

const Read = suite('readSettingsFile');

Read('readSettingsFile(path) accepts comments and trailing commas', async () => {
  const l = await readSettingsFile(fixture('one-connection.json'));
  assert.is(l.values.get('Connections:Contoso:TenantId'), 'contoso.onmicrosoft.com');
  assert.is(l.values.get('OpenId:AgentIdentifier'), 'Local');
});

Read('readSettingsFile(path) accepts a BOM', async () => {
  const l = await readSettingsFile(fixture('bom.json'));
  assert.is(l.values.get('Connections:Bom:TenantId'), 'contoso.com');
});

Read('readSettingsFile(missing) says which path and how to create one', async () => {
  const err = await failureAsync(() => readSettingsFile('/nonexistent/appsettings.agent.json'));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, '/nonexistent/appsettings.agent.json');
  assert.match(err.message, '--settings-out');
});

Read('readSettingsFile(folder) says it is a folder and which file to name', async () => {
  const folder = fixture('');
  const err = await failureAsync(() => readSettingsFile(folder));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, `settings file ${folder} is a folder: name the settings file (e.g. `);
});

Read('readSettingsFile(malformed) names the line and column', async () => {
  const err = await failureAsync(() => readSettingsFile(fixture('malformed.json')));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, 'malformed.json:5:7:');
});

Read('readSettingsFile(array root) fails with ERR_SETTINGS', async () => {
  const err = await failureAsync(() => readSettingsFile(fixture('array-root.json')));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, 'root must be a JSON object');
});

Read('readSettingsFile(path) rejects connection names that differ only by case', async () => {
  const err = await failureAsync(() => readSettingsFile(fixture('duplicate-connection.json')));
  assert.is(err.code, 'ERR_SETTINGS');
  assert.match(err.message, "duplicate-connection.json:4:5: malformed JSON: duplicate key 'contoso'");
});

Read.run();

// ---

const Parse = suite('parseJsonText');

Parse('parseJsonText(text) parses values like JSON.parse', () => {
  const text = '{"a":[1,-2.5e3,true,false,null,"x\\n\\u00e9"],"b":{}}';
  assert.equal(JSON.stringify(parseJsonText(text, 't', 'ERR_MAPPING')), JSON.stringify(JSON.parse(text)));
});

Parse('parseJsonText(text) reports line and column of each kind of error', () => {
  const cases: [string, string][] = [
    ['{"a": 1', 't:1:8: malformed JSON: expected'],
    ['{\n  "a": tru }', 't:2:8: malformed JSON: unexpected character'],
    ['{"a": "x\n"}', 't:1:7: malformed JSON: unterminated string'],
    ['{"a": 1} x', 't:1:10: malformed JSON: unexpected content'],
    ['/* open', 't:1:1: malformed JSON: unterminated comment'],
    ['', 't:1:1: malformed JSON: unexpected end of input'],
  ];
  for (const [text, expected] of cases) {
    const err = failure(() => parseJsonText(text, 't', 'ERR_MAPPING'));
    assert.is(err.code, 'ERR_MAPPING');
    assert.ok(err.message.startsWith(expected), `${JSON.stringify(text)} → ${err.message}`);
  }
});

Parse('parseJsonText(text) refuses JSON nested 100,000 deep with a usage error, not a stack overflow', () => {
  for (const [open, close] of [
    ['[', ']'],
    ['{"a":', '}'],
  ]) {
    const text = open!.repeat(100_000) + close!.repeat(100_000);
    const err = failure(() => parseJsonText(text, 't', 'ERR_SETTINGS'));
    assert.is(err.code, 'ERR_SETTINGS');
    assert.is(err.exitCode, 2);
    assert.match(err.message, /^t:1:\d+: JSON nested deeper than 64 levels/);
  }
  const fine = '['.repeat(64) + ']'.repeat(64);
  assert.equal(JSON.stringify(parseJsonText(fine, 't', 'ERR_SETTINGS')), fine);
});

Parse.run();

// ---

const Resolve = suite('resolveConnection');

Resolve('resolveConnection(layers) takes the only connection and applies defaults', async () => {
  const c = resolveConnection([await readSettingsFile(fixture('one-connection.json'))]);
  assert.is(c.name, 'Contoso');
  assert.is(c.applicationId, APP);
  assert.is(c.applicationKey, 's3cr3t-Value~1');
  assert.is(c.tenantId, 'contoso.onmicrosoft.com');
  assert.is(c.authority, 'https://login.microsoftonline.com/contoso.onmicrosoft.com');
  assert.is(c.scope, 'https://graph.microsoft.com/.default');
  assert.is(c.graphUrl, 'https://graph.microsoft.com/v1.0/');
  assert.is(c.responseUri, 'http://localhost');
  assert.is(c.origins.ApplicationKey, fixture('one-connection.json'));
  assert.is(c.origins.MicrosoftAuthorityPath, 'default');
});

Resolve('resolveConnection(layers, name) matches the name ignoring case and reads certificates', async () => {
  const c = resolveConnection([await readSettingsFile(fixture('two-connections.json'))], 'contosola');
  assert.is(c.name, 'ContosoLA');
  assert.is(c.applicationKey, undefined);
  assert.is(c.certificatePath, 'certs/la.pfx');
  assert.is(c.certificatePassword, 'pfx-password');
  assert.is(c.certificateThumbprint, 'ABCDEF0123456789ABCDEF0123456789ABCDEF01');
  assert.is(c.authority, 'https://login.microsoftonline.us/aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee');
  assert.is(c.scope, 'https://graph.microsoft.us/.default');
});

Resolve('resolveConnection(layers) lets a later layer override key by key, ignoring case', () => {
  const file = layer('appsettings.agent.json', 'Contoso', {
    ...base,
    MicrosoftGraphPathApi: 'https://a.example/v1.0/',
  });
  const env = environmentLayer({ connections__CONTOSO__applicationkey: 'from-env' });
  const c = resolveConnection([file, env]);
  assert.is(c.name, 'Contoso');
  assert.is(c.applicationKey, 'from-env');
  assert.is(c.origins.ApplicationKey, 'environment');
  assert.is(c.origins.TenantId, 'appsettings.agent.json');
  assert.is(c.graphUrl, 'https://a.example/v1.0/');
});

Resolve('resolveConnection(layers) without a name lists the connections when there are several', async () => {
  const file = await readSettingsFile(fixture('two-connections.json'));
  assert.match(failure(() => resolveConnection([file])).message, 'ContosoNY, ContosoLA');
  const layers = [layer('f.json', 'A', base), layer('f.json', 'B', base)];
  const e = failure(() => resolveConnection(layers));
  assert.is(e.code, 'ERR_SETTINGS');
  assert.is(e.exitCode, 2);
  assert.match(e.message, 'A, B');
  assert.match(e.message, '--connection');
});

Resolve('resolveConnection(layers, unknown) lists the available names', () => {
  const e = failure(() => resolveConnection([layer('f.json', 'Contoso', base)], 'Fabrikam'));
  assert.is(e.code, 'ERR_SETTINGS');
  assert.match(e.message, "'Fabrikam'");
  assert.match(e.message, 'available: Contoso');
});

Resolve('resolveConnection([]) says there is no connection', () => {
  assert.is(failure(() => resolveConnection([{ origin: 'f.json', values: new Map() }])).code, 'ERR_SETTINGS');
});

Resolve('resolveConnection(layers) rejects bad connection names', () => {
  const unusable = [
    '.',
    '..',
    '...',
    '.hidden',
    'Contoso.',
    'Contoso ',
    ' Contoso',
    'Con\ttoso',
    'C'.repeat(101),
  ];
  for (const bad of [
    '1Contoso',
    'Con_toso',
    'Con*toso',
    'Con?toso',
    'Con|toso',
    'Con"toso',
    'Con<toso',
    ...unusable,
  ]) {
    const e = failure(() => resolveConnection([layer('f.json', bad, base)]));
    assert.is(e.code, 'ERR_SETTINGS', bad);
    assert.ok(e.message.includes(JSON.stringify(bad).slice(1, -1)), e.message);
    assert.match(e.message, 'f.json');
  }
  assert.match(
    failure(() => resolveConnection([layer('f.json', '..', base)])).message,
    `connection name '..' in f.json is not usable in file names (it must not begin or end with a dot)`,
  );
});

Resolve('resolveConnection(layers) names the connection, key and file of a missing value', () => {
  for (const key of ['ApplicationId', 'TenantId'] as const) {
    const values: Record<string, string> = { ...base };
    delete values[key];
    const e = failure(() => resolveConnection([layer('f.json', 'Contoso', values)]));
    assert.is(e.code, 'ERR_SETTINGS');
    assert.match(e.message, "connection 'Contoso'");
    assert.match(e.message, `${key} is missing`);
    assert.match(e.message, 'f.json');
    assert.match(e.message, `Connections__Contoso__${key}`);
  }
});

Resolve('resolveConnection(layers) checks the ApplicationId and TenantId formats', () => {
  const e1 = failure(() =>
    resolveConnection([layer('f.json', 'C', { ...base, ApplicationId: 'contosoAzure897' })]),
  );
  assert.is(e1.code, 'ERR_SETTINGS');
  assert.match(e1.message, 'ApplicationId (from f.json) is not a GUID');
  const e2 = failure(() => resolveConnection([layer('f.json', 'C', { ...base, TenantId: 'not a domain' })]));
  assert.match(e2.message, 'TenantId');
  const ok = resolveConnection([
    layer('f.json', 'C', { ...base, TenantId: 'AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee' }),
  ]);
  assert.is(ok.tenantId, 'AAAAAAAA-bbbb-cccc-dddd-eeeeeeeeeeee');
});

Resolve('resolveConnection(layers) requires exactly one kind of credential', () => {
  const { ApplicationKey: _, ...none } = base;
  assert.match(failure(() => resolveConnection([layer('f.json', 'C', none)])).message, 'no credential');
  const both = { ...base, CertificatePath: 'c.pem' };
  assert.match(
    failure(() => resolveConnection([layer('f.json', 'C', both)])).message,
    'keep exactly one credential',
  );
  const federatedAndMi = { ...none, ClientAssertionFile: '/var/run/token', ManagedIdentity: 'true' };
  assert.match(
    failure(() => resolveConnection([layer('f.json', 'C', federatedAndMi)])).message,
    'ClientAssertionFile (from f.json) and ManagedIdentity (from f.json)',
  );
  assert.is(
    resolveConnection([layer('f.json', 'C', { ...none, ManagedIdentity: 'TRUE' })]).managedIdentity,
    true,
  );
  assert.is(
    resolveConnection([layer('f.json', 'C', { ...none, ClientAssertionFile: '/t' })]).clientAssertionFile,
    '/t',
  );
  assert.match(
    failure(() => resolveConnection([layer('f.json', 'C', { ...none, ManagedIdentity: 'yes' })])).message,
    'true or false',
  );
  const thumbOnly = { ...none, CertificateThumbprint: 'AB'.repeat(20) };
  assert.match(
    failure(() => resolveConnection([layer('f.json', 'C', thumbOnly)])).message,
    'CertificatePath',
  );
  const badThumb = { ...none, CertificatePath: 'c.pem', CertificateThumbprint: 'xyz' };
  assert.is(failure(() => resolveConnection([layer('f.json', 'C', badThumb)])).code, 'ERR_SETTINGS');
});

Resolve('resolveConnection(layers) hints at misspelt keys', () => {
  const { ApplicationKey: secret, ...rest } = base;
  const e = failure(() => resolveConnection([layer('f.json', 'C', { ...rest, ApplicationKy: secret })]));
  assert.match(e.message, 'unknown keys there: ApplicationKy');
  assert.not.match(e.message, secret);
});

Resolve('resolveConnection(layers) requires https authority and Graph URLs', () => {
  for (const [key, value] of [
    ['MicrosoftAuthorityPath', 'http://login.example/{0}'],
    ['MicrosoftGraphPathApi', 'http://127.0.0.1:8443/v1.0/'],
    ['MicrosoftGraphPathApi', 'graph.microsoft.com/v1.0'],
  ] as const) {
    const e = failure(() => resolveConnection([layer('f.json', 'C', { ...base, [key]: value })]));
    assert.is(e.code, 'ERR_SETTINGS', value);
    assert.match(e.message, key);
  }
});

Resolve(
  'resolveConnection(layers) accepts an authority without placeholder as fixed, and the emulator form',
  () => {
    const fixed = resolveConnection([
      layer('f.json', 'C', { ...base, MicrosoftAuthorityPath: 'https://login.example/t1/' }),
    ]);
    assert.is(fixed.authority, 'https://login.example/t1');
    const emu = resolveConnection([
      layer('f.json', 'C', {
        ...base,
        MicrosoftAuthorityPath: 'https://127.0.0.1:8443/{0}',
        MicrosoftGraphPathApi: 'https://127.0.0.1:8443/v1.0',
      }),
    ]);
    assert.is(emu.authority, 'https://127.0.0.1:8443/contoso.onmicrosoft.com');
    assert.is(emu.graphUrl, 'https://127.0.0.1:8443/v1.0/');
  },
);

Resolve('resolveConnection() never puts a secret in an error or in its printed form', () => {
  const secret = 'P@ss-very-secret-123';
  const misplaced = failure(() =>
    resolveConnection([layer('f.json', 'C', { ...base, ApplicationId: secret })]),
  );
  assert.not.match(misplaced.message, secret);
  const url = failure(() =>
    resolveConnection([layer('f.json', 'C', { ...base, MicrosoftGraphPathApi: `https://u:${secret}@h/` })]),
  );
  assert.not.match(url.message, secret);
  const c = resolveConnection([layer('f.json', 'C', { ...base, ApplicationKey: secret })]);
  assert.is(c.applicationKey, secret);
  assert.not.match(JSON.stringify(c), secret);
  assert.not.match(inspect(c), secret);
});

Resolve.run();
