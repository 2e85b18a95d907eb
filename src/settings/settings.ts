import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { inspect } from 'node:util';
import { UsageError, type UsageCode } from '../errors.js';
import { parseMaxDeletes } from './thresholds.js';
import type { SettingsLayer } from '../types.js';

export type { SettingsLayer } from '../types.js';

/** One validated connection (DESIGN.md §2). Secrets are redacted from `JSON.stringify` and `inspect`. */
export interface ConnectionSettings {
  name: string;
  applicationId: string;
  applicationKey?: string;
  certificatePath?: string;
  certificatePassword?: string;
  certificateThumbprint?: string;
  /** A file holding a federated client assertion (workload identity), read at each token request. */
  clientAssertionFile?: string;
  /** Use the host's managed identity (App Service style endpoint) instead of an app credential. */
  managedIdentity?: boolean;
  managedIdentityClientId?: string;
  tenantId: string;
  /** `MicrosoftAuthorityPath` with the tenant filled in, without a trailing slash. */
  authority: string;
  /** `MicrosoftGraphPath`: the scope requested. */
  scope: string;
  /** `MicrosoftGraphPathApi`, always ending with '/'. */
  graphUrl: string;
  responseUri: string;
  /** `ExportMaxDeletes` / `FulfillMaxDeletes`: the delete threshold of scheduled runs (`500`, `2%`, `off`). */
  exportMaxDeletes?: { key: string; value: string };
  fulfillMaxDeletes?: { key: string; value: string };
  /** Where each value came from (`ApplicationId` → 'appsettings.agent.json', defaults → 'default'). */
  origins: Record<string, string>;
}

const KEYS = [
  'ApplicationId',
  'ApplicationKey',
  'CertificatePath',
  'CertificatePassword',
  'CertificateThumbprint',
  'ClientAssertionFile',
  'ManagedIdentity',
  'ManagedIdentityClientId',
  'TenantId',
  'MicrosoftAuthorityPath',
  'MicrosoftGraphPath',
  'MicrosoftGraphPathApi',
  'ResponseUri',
  'ExportMaxDeletes',
  'FulfillMaxDeletes',
] as const;
type Key = (typeof KEYS)[number];
const SECRETS = new Set<Key>(['ApplicationKey', 'CertificatePassword']);
const DEFAULTS: Partial<Record<Key, string>> = {
  MicrosoftAuthorityPath: 'https://login.microsoftonline.com/{0}',
  MicrosoftGraphPath: 'https://graph.microsoft.com/.default',
  MicrosoftGraphPathApi: 'https://graph.microsoft.com/v1.0/',
  ResponseUri: 'http://localhost',
};
/** Sections the environment layer picks up; later issues add theirs here. */
const ENV_SECTIONS = ['connections', 'encryptioncertificate', 'mailsettings', 'azurekeyvault', 'cyberark'];

/**
 * Keys that hold secrets, by their last segment: `ApplicationKey`, `CertificatePassword`,
 * `EncryptionCertificate:Password`, `MailSettings:Password`, and any `*Password`, `*Secret`,
 * `*ApiKey` or `*Token` of later sections.
 */
const SECRET_KEY = /(?:^|:)(?:ApplicationKey|[^:]*Password|[^:]*Secret|[^:]*ApiKey|[^:]*Token)$/i;

/** True when `key` (a flat settings key) names a secret. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key);
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DOMAIN = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$/i;
const BAD_NAME = /[<>:"/\\|?*_]/;
const MAX_NAME_LENGTH = 100;

/**
 * Flattens a parsed JSON document into a layer: nested objects joined with ':', arrays by index,
 * numbers and booleans as strings, null and empty containers as ''.
 */
export function flattenJson(json: unknown, origin: string): SettingsLayer {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new UsageError(
      'ERR_SETTINGS',
      `${origin}: the root must be a JSON object ({ "Connections": { ... } }), found ${describeJson(json)}`,
    );
  }
  const values = new Map<string, string>();
  const visit = (value: unknown, path: string): void => {
    // .NET reads 12345 as "12345"; a secret written so has already lost its leading zeros or digits.
    if (typeof value === 'number' && isSecretKey(path))
      throw new UsageError(
        'ERR_SETTINGS',
        `${origin}: ${path} is a number: a secret must be a JSON string in double quotes (a number loses leading zeros and digits)`,
      );
    if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      if (entries.length === 0 && path) values.set(path, '');
      for (const [k, v] of entries) visit(v, path ? `${path}:${k}` : k);
    } else
      values.set(
        path,
        value === null || value === undefined
          ? ''
          : typeof value === 'string'
            ? value
            : JSON.stringify(value),
      );
  };
  visit(json, '');
  return { origin, values };
}

/**
 * The environment layer: `Connections__Contoso__ApplicationKey` → `Connections:Contoso:ApplicationKey`.
 * Only known sections are taken, so unrelated variables never reach the settings.
 */
export function environmentLayer(env: Record<string, string | undefined>): SettingsLayer {
  const values = new Map<string, string>();
  for (const [name, value] of Object.entries(env)) {
    if (value === undefined) continue;
    const key = name.replaceAll('__', ':');
    const colon = key.indexOf(':');
    if (colon > 0 && ENV_SECTIONS.includes(key.slice(0, colon).toLowerCase())) values.set(key, value);
  }
  return { origin: 'environment', values };
}

/**
 * Reads an `appsettings.agent.json`-style file into a layer whose origin is `path`. Accepts a BOM,
 * comments and trailing commas as .NET does; rejects duplicate keys (ignoring case) like .NET.
 * `sample` is a sample settings file a "not found" error points to.
 */
export async function readSettingsFile(
  path: string,
  options: { sample?: string } = {},
): Promise<SettingsLayer> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const start = options.sample ? `start from the sample ${options.sample}` : 'write one';
    const why =
      code === 'ENOENT'
        ? `settings file not found: ${path} (${start} with your "Connections" values, see the README, or let \`entra emulate --settings-out ${path}\` write one for the local emulator)`
        : code === 'EISDIR'
          ? `settings file ${path} is a folder: name the settings file (e.g. ${join(path, 'appsettings.agent.json')})`
          : `cannot read settings file ${path}: ${code ?? String(error)}`;
    throw new UsageError('ERR_SETTINGS', why, { cause: error });
  }
  return flattenJson(parseJsonText(text, path, 'ERR_SETTINGS'), path);
}

interface Found {
  key: string;
  value: string;
  origin: string;
}

/**
 * Picks and validates one connection. Later layers override earlier ones key by key; with no
 * `requestedName`, a single connection is the default.
 * @example resolveConnection([await readSettingsFile(f), environmentLayer(env)], argv.connection)
 */
export function resolveConnection(layers: SettingsLayer[], requestedName?: string): ConnectionSettings {
  const merged = new Map<string, Found>();
  const names = new Map<string, { name: string; origin: string }>();
  for (const layer of layers) {
    for (const [key, value] of layer.values) {
      const lower = key.toLowerCase();
      merged.set(lower, { key, value, origin: layer.origin });
      if (!lower.startsWith('connections:')) continue;
      const end = key.indexOf(':', 12);
      const name = key.slice(12, end < 0 ? undefined : end);
      if (!names.has(name.toLowerCase())) names.set(name.toLowerCase(), { name, origin: layer.origin });
    }
  }
  for (const { name, origin } of names.values()) checkName(name, origin);
  const where = layers.map((l) => l.origin).join(', ') || 'no settings';
  const available = [...names.values()].map((n) => n.name).join(', ');
  let name: string;
  if (requestedName !== undefined) {
    const found = names.get(requestedName.toLowerCase());
    if (!found) {
      const list = available ? `available: ${available}` : 'none is defined';
      throw new UsageError('ERR_SETTINGS', `no connection '${requestedName}' in ${where} (${list})`);
    }
    name = found.name;
  } else if (names.size === 1) {
    name = [...names.values()][0]!.name;
  } else if (names.size === 0) {
    throw new UsageError(
      'ERR_SETTINGS',
      `no connection in ${where}: add a "Connections": { "<Name>": { ... } } section`,
    );
  } else {
    throw new UsageError(
      'ERR_SETTINGS',
      `${names.size} connections in ${where} (${available}): choose one with --connection`,
    );
  }
  const files = layers.filter((l) => l.origin !== 'environment').map((l) => l.origin);
  // Where a vault would hold the credential, say under which name (the vault is read, the key is not there).
  const vaultHints = [
    files.some((f) => f.startsWith('Azure Key Vault '))
      ? `Azure Key Vault names the secret Connections--${name}--ApplicationKey`
      : '',
    files.some((f) => f.startsWith('CyberArk '))
      ? `CyberArk objects are named per key in appsettings.cyberark.agent.json`
      : '',
  ].filter(Boolean);
  return validate(name, merged, files.join(', ') || 'appsettings.agent.json', vaultHints.join('; '));
}

/** Why `name` cannot be a connection name (DESIGN.md §2: file names are built from it), or undefined. */
export function connectionNameProblem(name: string): string | undefined {
  if (!name) return 'is empty';
  if (/^[0-9]/.test(name)) return 'must not begin with a digit';
  if (BAD_NAME.test(name)) return 'must not contain < > : " / \\ | ? * or _';
  // Control characters, and what Windows strips or hides: `.`, `..`, a trailing dot or space.
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) return 'must not contain control characters';
  if (/^\.|\.$/.test(name)) return 'is not usable in file names (it must not begin or end with a dot)';
  if (/^\s|\s$/.test(name)) return 'must not begin or end with a space';
  if (name.length > MAX_NAME_LENGTH) return `is longer than ${MAX_NAME_LENGTH} characters`;
  return undefined;
}

function checkName(name: string, origin: string): void {
  const why = connectionNameProblem(name);
  if (why) {
    const shown = JSON.stringify(name).slice(1, -1);
    throw new UsageError(
      'ERR_SETTINGS',
      `connection name '${shown}' in ${origin} ${why}${why.includes('file names') ? '' : ' (file names are built from it)'}`,
    );
  }
}

function validate(
  name: string,
  merged: Map<string, Found>,
  where: string,
  vaultHint = '',
): ConnectionSettings {
  const prefix = `connections:${name.toLowerCase()}:`;
  const got = new Map<Key, Found>();
  const unknown: string[] = [];
  for (const [lower, found] of merged) {
    if (!lower.startsWith(prefix)) continue;
    const short = found.key.slice(prefix.length);
    const key = KEYS.find((k) => k.toLowerCase() === short.toLowerCase());
    if (key && found.value !== '')
      got.set(key, SECRETS.has(key) ? found : { ...found, value: found.value.trim() });
    else if (!key) unknown.push(short);
  }
  const origins: Record<string, string> = {};
  const value = (key: Key): string | undefined => {
    const found = got.get(key);
    if (found) origins[key] = found.origin;
    else if (DEFAULTS[key] !== undefined) origins[key] = 'default';
    return found?.value ?? DEFAULTS[key];
  };
  const from = (key: Key): string => {
    const found = got.get(key);
    if (!found) return '(default)';
    return found.origin === 'environment'
      ? `(from environment variable Connections__${name}__${key})`
      : `(from ${found.origin})`;
  };
  const hint = unknown.length ? `; unknown keys there: ${unknown.join(', ')}` : '';
  const fail = (message: string): never => {
    throw new UsageError('ERR_SETTINGS', `connection '${name}': ${message}`);
  };
  const required = (key: Key): string =>
    value(key) ??
    fail(
      `${key} is missing (set Connections:${name}:${key} in ${where}, or environment variable Connections__${name}__${key}${hint})`,
    );

  const applicationId = required('ApplicationId');
  if (!GUID.test(applicationId)) fail(`ApplicationId ${from('ApplicationId')} is not a GUID`);
  const tenantId = required('TenantId');
  if (!GUID.test(tenantId) && !DOMAIN.test(tenantId))
    fail(`TenantId ${from('TenantId')} is neither a GUID nor a domain name like contoso.onmicrosoft.com`);

  const applicationKey = value('ApplicationKey');
  const certificatePath = value('CertificatePath');
  const certificatePassword = value('CertificatePassword');
  let certificateThumbprint = value('CertificateThumbprint');
  const clientAssertionFile = value('ClientAssertionFile');
  const managedIdentityValue = value('ManagedIdentity');
  if (managedIdentityValue !== undefined && !/^(true|false)$/i.test(managedIdentityValue))
    fail(`ManagedIdentity ${from('ManagedIdentity')} must be true or false`);
  const managedIdentity = /^true$/i.test(managedIdentityValue ?? '');
  const managedIdentityClientId = value('ManagedIdentityClientId');
  if (managedIdentityClientId && !GUID.test(managedIdentityClientId))
    fail(`ManagedIdentityClientId ${from('ManagedIdentityClientId')} is not a GUID`);
  const kinds = [
    applicationKey ? `ApplicationKey ${from('ApplicationKey')}` : '',
    certificatePath ? `CertificatePath ${from('CertificatePath')}` : '',
    clientAssertionFile ? `ClientAssertionFile ${from('ClientAssertionFile')}` : '',
    managedIdentity ? `ManagedIdentity ${from('ManagedIdentity')}` : '',
  ].filter(Boolean);
  if (kinds.length > 1) fail(`${kinds.join(' and ')} are set: keep exactly one credential`);
  if (!certificatePath && (certificatePassword || certificateThumbprint))
    fail(
      `${certificateThumbprint ? 'CertificateThumbprint' : 'CertificatePassword'} is set but CertificatePath is not: the certificate is read from a PEM or PFX file`,
    );
  if (kinds.length === 0)
    fail(
      `no credential: set ApplicationKey (client secret), CertificatePath (PEM or PFX), ClientAssertionFile (federated token) or ManagedIdentity=true in ${where}${hint}${vaultHint ? ` (${vaultHint})` : ''}`,
    );
  if (certificateThumbprint) {
    certificateThumbprint = certificateThumbprint.replace(/[\s:]/g, '').toUpperCase();
    if (!/^([0-9A-F]{40}|[0-9A-F]{64})$/.test(certificateThumbprint))
      fail(`CertificateThumbprint ${from('CertificateThumbprint')} is not a SHA-1 or SHA-256 hex thumbprint`);
  }

  const pattern = value('MicrosoftAuthorityPath')!;
  const authority = pattern.replace(/\{0\}|\{tenantid\}/gi, tenantId).replace(/\/+$/, '');
  checkHttps(authority, `MicrosoftAuthorityPath ${from('MicrosoftAuthorityPath')}`, fail);
  let graphUrl = value('MicrosoftGraphPathApi')!;
  checkHttps(graphUrl, `MicrosoftGraphPathApi ${from('MicrosoftGraphPathApi')}`, fail);
  if (!graphUrl.endsWith('/')) graphUrl += '/';
  const scope = value('MicrosoftGraphPath')!;
  const responseUri = value('ResponseUri')!;
  const maxDeletes = (key: 'ExportMaxDeletes' | 'FulfillMaxDeletes') => {
    const text = value(key);
    if (text === undefined) return undefined;
    try {
      parseMaxDeletes(text);
    } catch {
      fail(`${key} ${from(key)} must be a number of delete rows (500), a percentage (2.5%) or off`);
    }
    return { key: `Connections:${name}:${key}`, value: text };
  };
  const exportMaxDeletes = maxDeletes('ExportMaxDeletes');
  const fulfillMaxDeletes = maxDeletes('FulfillMaxDeletes');

  const settings: ConnectionSettings = {
    name,
    applicationId,
    tenantId,
    authority,
    scope,
    graphUrl,
    responseUri,
    origins,
  };
  if (applicationKey) settings.applicationKey = applicationKey;
  if (certificatePath) settings.certificatePath = certificatePath;
  if (certificatePassword) settings.certificatePassword = certificatePassword;
  if (certificateThumbprint) settings.certificateThumbprint = certificateThumbprint;
  if (clientAssertionFile) settings.clientAssertionFile = clientAssertionFile;
  if (managedIdentity) settings.managedIdentity = true;
  if (managedIdentityClientId) settings.managedIdentityClientId = managedIdentityClientId;
  if (exportMaxDeletes) settings.exportMaxDeletes = exportMaxDeletes;
  if (fulfillMaxDeletes) settings.fulfillMaxDeletes = fulfillMaxDeletes;
  return redactSecrets(settings);
}

// Values are never quoted in errors: a secret pasted into the wrong key must not reach stderr.
function checkHttps(url: string, what: string, fail: (m: string) => never): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return fail(`${what} is not an absolute URL`);
  }
  if (parsed.protocol !== 'https:') fail(`${what} must be an https URL (got ${parsed.protocol})`);
  if (parsed.username || parsed.password) fail(`${what} must not carry credentials`);
}

function redactSecrets(settings: ConnectionSettings): ConnectionSettings {
  const redacted = (): Record<string, unknown> => ({
    ...settings,
    ...(settings.applicationKey && { applicationKey: '***' }),
    ...(settings.certificatePassword && { certificatePassword: '***' }),
  });
  Object.defineProperty(settings, 'toJSON', { value: redacted, enumerable: false });
  Object.defineProperty(settings, inspect.custom, { value: redacted, enumerable: false });
  return settings;
}

function describeJson(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : `a ${typeof value}`;
}

/** The deepest nesting of objects and arrays {@link parseJsonText} reads. */
export const MAX_JSON_DEPTH = 64;

/**
 * Parses JSON the way .NET configuration reads it (a BOM, `//` and `/* *\/` comments and trailing
 * commas are accepted; duplicate keys, ignoring case, are not), failing with `<origin>:<line>:<column>`.
 * Node 20's `JSON.parse` messages carry no position, hence this small parser (files are tiny).
 */
export function parseJsonText(text: string, origin: string, code: UsageCode): unknown {
  const s = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  let i = 0;
  let depth = 0;
  const fail = (reason: string, at = i, what = 'malformed JSON: '): never => {
    const before = s.slice(0, at);
    const line = before.split('\n').length;
    const column = at - before.lastIndexOf('\n');
    throw new UsageError(code, `${origin}:${line}:${column}: ${what}${reason}`);
  };
  const space = (): void => {
    for (;;) {
      const c = s[i];
      if (c === ' ' || c === '\t' || c === '\r' || c === '\n') i++;
      else if (c === '/' && s[i + 1] === '/') i = s.indexOf('\n', i) < 0 ? s.length : s.indexOf('\n', i);
      else if (c === '/' && s[i + 1] === '*') {
        const end = s.indexOf('*/', i + 2);
        if (end < 0) fail('unterminated comment');
        i = end + 2;
      } else return;
    }
  };
  const string = (): string => {
    const start = i;
    for (i++; s[i] !== '"'; i++) {
      if (i >= s.length || s[i] === '\n') fail('unterminated string', start);
      if (s[i] === '\\') i++;
    }
    i++;
    try {
      return JSON.parse(s.slice(start, i)) as string;
    } catch {
      return fail('invalid string (bad escape or control character)', start);
    }
  };
  const container = (close: string, item: (out: unknown[] | Record<string, unknown>) => void) => {
    // Settings are a few levels deep; a limit keeps a hostile file from overflowing the stack.
    if (++depth > MAX_JSON_DEPTH) fail(`JSON nested deeper than ${MAX_JSON_DEPTH} levels`, i, '');
    const out = close === '}' ? (Object.create(null) as Record<string, unknown>) : [];
    i++;
    space();
    while (s[i] !== close) {
      item(out);
      space();
      if (s[i] === ',') {
        i++;
        space();
      } else if (s[i] !== close) fail(`expected ',' or '${close}'`);
    }
    i++;
    depth--;
    return out;
  };
  const value = (): unknown => {
    space();
    const c = s[i];
    if (c === '{') {
      const seen = new Map<string, number>();
      return container('}', (out) => {
        if (s[i] !== '"') fail('expected a property name in double quotes');
        const at = i;
        const key = string();
        const other = seen.get(key.toLowerCase());
        if (other !== undefined)
          fail(
            `duplicate key '${key}' (keys are case-insensitive; see line ${s.slice(0, other).split('\n').length})`,
            at,
          );
        seen.set(key.toLowerCase(), at);
        space();
        if (s[i] !== ':') fail("expected ':'");
        i++;
        (out as Record<string, unknown>)[key] = value();
      });
    }
    if (c === '[') return container(']', (out) => (out as unknown[]).push(value()));
    if (c === '"') return string();
    for (const [word, v] of [
      ['true', true],
      ['false', false],
      ['null', null],
    ] as const)
      if (s.startsWith(word, i)) return ((i += word.length), v);
    const number = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
    number.lastIndex = i;
    const m = number.exec(s);
    if (m) return ((i += m[0].length), Number(m[0]));
    return fail(c === undefined ? 'unexpected end of input' : `unexpected character '${c}'`);
  };
  const result = value();
  space();
  if (i < s.length) fail('unexpected content after the JSON value');
  return result;
}
