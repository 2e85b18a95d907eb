import https from 'node:https';
import { setTimeout as delay } from 'node:timers/promises';
import { ToolError, UsageError } from '../errors.js';
import { isTlsTrustError, trustedCertificateAuthorities } from '../graph/https-trust.js';
import { requestJson } from '../graph/http-json.js';
import { graphErrorOf } from '../graph/graph-error.js';
import { retryDelay } from '../graph/retry-delay.js';
import { createManagedIdentityTokenProvider } from '../graph/managed-identity-token.js';
import { createTokenProvider, type TokenProvider } from '../graph/token.js';
import { registerSecret } from '../redact.js';
import { silentLogger, type Logger } from '../types.js';
import type { SettingsLayer } from './settings.js';

/**
 * Settings from Azure Key Vault, the way .NET's AzureKeyVaultConfigurationProvider reads them: every
 * enabled secret of the vault becomes a setting, its name's `--` read as the ':' of a key path
 * (`Connections--Contoso--ApplicationKey` → `Connections:Contoso:ApplicationKey`).
 *
 * The `AzureKeyVault` section (read from the earlier layers) names the vault and how to sign in to it:
 * - `Vault`: the vault URL, e.g. `https://contoso-kv.vault.azure.net/`;
 * - `Authentication`: `ManagedIdentity` (optionally `ManagedIdentityClientId` for a user-assigned one) or
 *   `ClientSecret` with the section's own `TenantId`, `ApplicationId`, `ApplicationKey` (and optional
 *   `MicrosoftAuthorityPath`); when absent, `ClientSecret` if `ApplicationKey` is set, else `ManagedIdentity`.
 * The vault's own credentials never come from the connection: the connection's secret may live in the vault.
 */

export interface KeyVaultLayerOptions {
  /** The environment the command runs in (managed identity reads IDENTITY_ENDPOINT/IDENTITY_HEADER). */
  env: Record<string, string | undefined>;
  /** Extra PEM CA trusted besides the system roots (the emulator's). */
  ca?: string;
  logger?: Logger;
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
  /** Secrets read at once; default 8. */
  concurrency?: number;
  /** Retries of 429, 5xx and network failures; default 3. */
  retries?: number;
  /** First retry delay, doubled each time (at least `Retry-After`); default 500 ms. */
  retryDelayMs?: number;
}

export type KeyVaultAuthentication =
  | { kind: 'managedIdentity'; clientId?: string }
  | {
      kind: 'clientSecret';
      tenantId: string;
      applicationId: string;
      applicationKey: string;
      authority: string;
    };

export interface KeyVaultSettings {
  /** The vault URL without a trailing slash. */
  vault: string;
  authentication: KeyVaultAuthentication;
  /** The token scope: the vault's cloud's resource + `/.default`. */
  scope: string;
}

const API_VERSION = '7.4';
const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Vault DNS suffix → the resource its tokens are for (sovereign clouds differ). */
const CLOUD_RESOURCES: [string, string][] = [
  ['.vault.azure.cn', 'https://vault.azure.cn'],
  ['.vault.usgovcloudapi.net', 'https://vault.usgovcloudapi.net'],
  ['.vault.microsoftazure.de', 'https://vault.microsoftazure.de'],
];
const DEFAULT_RESOURCE = 'https://vault.azure.net';

/** `Connections--Contoso--ApplicationKey` → `Connections:Contoso:ApplicationKey`. */
export function secretNameToKey(name: string): string {
  return name.replaceAll('--', ':');
}

/**
 * Reads and checks the `AzureKeyVault` section of `layers` (later layers win, keys ignore case);
 * undefined when there is no such section.
 */
export function keyVaultSettings(layers: SettingsLayer[]): KeyVaultSettings | undefined {
  const section = new Map<string, { value: string; origin: string }>();
  for (const layer of layers)
    for (const [key, value] of layer.values)
      if (key.toLowerCase().startsWith('azurekeyvault:'))
        section.set(key.slice('azurekeyvault:'.length).toLowerCase(), { value, origin: layer.origin });
  if (section.size === 0) return undefined;
  const get = (name: string) => section.get(name.toLowerCase())?.value.trim() || undefined;
  const from = (name: string) => `AzureKeyVault:${name} (from ${section.get(name.toLowerCase())?.origin})`;
  const fail = (message: string): never => {
    throw new UsageError('ERR_SETTINGS', `AzureKeyVault: ${message}`);
  };
  const where = [...new Set([...section.values()].map((v) => v.origin))].join(', ');

  const vaultText = get('Vault') ?? fail(`Vault is missing (set AzureKeyVault:Vault in ${where})`);
  let url: URL;
  try {
    url = new URL(vaultText);
  } catch {
    return fail(`${from('Vault')} is not an absolute URL (e.g. https://contoso-kv.vault.azure.net/)`);
  }
  if (url.protocol !== 'https:') fail(`${from('Vault')} must be an https URL`);
  if (url.username || url.password) fail(`${from('Vault')} must not carry credentials`);
  if (url.search || url.hash) fail(`${from('Vault')} must not have a query or a fragment`);
  const vault = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  const host = url.hostname.toLowerCase();
  const resource = CLOUD_RESOURCES.find(([suffix]) => host.endsWith(suffix))?.[1] ?? DEFAULT_RESOURCE;

  // Secrets are taken as they are (no trimming), like settings.ts does.
  const applicationKey = section.get('applicationkey')?.value || undefined;
  const mode = (get('Authentication') ?? (applicationKey ? 'ClientSecret' : 'ManagedIdentity')).toLowerCase();
  let authentication: KeyVaultAuthentication;
  if (mode === 'managedidentity') {
    if (applicationKey)
      fail(`${from('ApplicationKey')} is set but Authentication is ManagedIdentity: keep one credential`);
    const clientId = get('ManagedIdentityClientId');
    if (clientId && !GUID.test(clientId)) fail(`${from('ManagedIdentityClientId')} is not a GUID`);
    authentication = { kind: 'managedIdentity', ...(clientId ? { clientId } : {}) };
  } else if (mode === 'clientsecret') {
    const need = (name: string) =>
      get(name) ??
      fail(
        `${name} is missing: Authentication ClientSecret needs TenantId, ApplicationId and ApplicationKey`,
      );
    const tenantId = need('TenantId');
    const applicationId = need('ApplicationId');
    if (!GUID.test(applicationId)) fail(`${from('ApplicationId')} is not a GUID`);
    const key = applicationKey ?? need('ApplicationKey');
    registerSecret(key);
    const authority = (get('MicrosoftAuthorityPath') ?? 'https://login.microsoftonline.com/{0}')
      .replace(/\{0\}|\{tenantid\}/gi, tenantId)
      .replace(/\/+$/, '');
    authentication = { kind: 'clientSecret', tenantId, applicationId, applicationKey: key, authority };
  } else {
    return fail(`${from('Authentication')} must be ManagedIdentity or ClientSecret`);
  }
  return { vault, authentication, scope: `${resource}/.default` };
}

/**
 * The Key Vault layer: lists the vault's secrets (following `nextLink`), reads each enabled one, and
 * returns them as settings with origin `Azure Key Vault <vault>`; undefined without an `AzureKeyVault`
 * section. Every value is registered as a secret.
 * @example
 * const kv = await readKeyVaultLayer([plain, encrypted], { env: process.env, ca });
 * const layers = [plain, encrypted, ...(kv ? [kv] : []), environmentLayer(env)];
 */
export async function readKeyVaultLayer(
  layers: SettingsLayer[],
  options: KeyVaultLayerOptions,
): Promise<SettingsLayer | undefined> {
  const settings = keyVaultSettings(layers);
  if (!settings) return undefined;
  const { vault, authentication } = settings;
  const logger = options.logger ?? silentLogger;
  const who =
    authentication.kind === 'clientSecret'
      ? `app ${authentication.applicationId}`
      : authentication.clientId
        ? `managed identity ${authentication.clientId}`
        : 'the system-assigned managed identity';
  const common = {
    scope: settings.scope,
    logger,
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  };
  const tokens: TokenProvider =
    authentication.kind === 'clientSecret'
      ? createTokenProvider({
          ...common,
          authority: authentication.authority,
          clientId: authentication.applicationId,
          credential: { kind: 'secret', secret: authentication.applicationKey },
        })
      : createManagedIdentityTokenProvider({
          ...common,
          credential: {
            kind: 'managedIdentity',
            env: options.env,
            ...(authentication.clientId ? { clientId: authentication.clientId } : {}),
          },
        });
  const concurrency = options.concurrency ?? 8;
  const http = vaultClient(vault, who, tokens, { ...options, concurrency }, logger);

  const values = new Map<string, string>();
  try {
    const names: string[] = [];
    const seen = new Set<string>();
    let next: string | null = `${vault}/secrets?api-version=${API_VERSION}`;
    while (next) {
      if (seen.has(next))
        throw new ToolError('ERR_KEY_VAULT', `Azure Key Vault ${vault} repeated a nextLink: ${next}`);
      seen.add(next);
      const page = await http.get(next, 'list');
      const items = Array.isArray(page.json?.value)
        ? (page.json.value as { id?: unknown; attributes?: any }[])
        : [];
      for (const item of items) {
        const name = typeof item.id === 'string' ? /\/secrets\/([^/?]+)/.exec(item.id)?.[1] : undefined;
        // .NET's provider skips disabled secrets (their values cannot be read anyway).
        if (name && item.attributes?.enabled !== false) names.push(decodeURIComponent(name));
      }
      next = typeof page.json?.nextLink === 'string' && page.json.nextLink ? page.json.nextLink : null;
    }

    const queue = [...names];
    // After a failure no new request starts, and the error waits for the ones in flight: nothing is left
    // running once this function has settled.
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      for (let name = queue.shift(); name !== undefined && !failure; name = queue.shift()) {
        try {
          const secret = await http.get(
            `${vault}/secrets/${encodeURIComponent(name)}?api-version=${API_VERSION}`,
            'get',
            name,
          );
          if (secret.status !== 200) continue;
          const value = typeof secret.json?.value === 'string' ? secret.json.value : '';
          registerSecret(value);
          values.set(secretNameToKey(name), value);
        } catch (error) {
          failure ??= { error };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(names.length, 1)) }, worker));
    if (failure) throw failure.error;
  } finally {
    http.close();
  }
  logger.verbose(`Azure Key Vault ${vault}: ${values.size} secret(s) read`);
  const ordered = new Map([...values].sort(([a], [b]) => a.localeCompare(b)));
  return { origin: `Azure Key Vault ${vault}`, values: ordered };
}

interface VaultAnswer {
  status: number;
  json: any;
}

/** GETs on the vault with a bearer token: one renewal after a 401, retries of transient failures, clear errors. */
function vaultClient(
  vault: string,
  who: string,
  tokens: TokenProvider,
  options: KeyVaultLayerOptions,
  logger: Logger,
) {
  const origin = new URL(vault).origin;
  const ca = trustedCertificateAuthorities(options.ca);
  // Connections are reused for the list and the reads, and all closed at the end.
  const agent = new https.Agent({ keepAlive: true, maxSockets: options.concurrency ?? 8 });
  const timeoutMs = options.timeoutMs ?? 30_000;
  const retries = options.retries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;

  const once = (url: string, token: string) =>
    requestJson(url, {
      method: 'GET',
      headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      agent,
      ...(ca ? { ca } : {}),
      timeoutMs,
    });

  async function get(url: string, operation: 'list' | 'get', name?: string): Promise<VaultAnswer> {
    // Never send the token anywhere but the vault (a nextLink is data from the network).
    if (new URL(url).origin !== origin)
      throw new ToolError(
        'ERR_KEY_VAULT',
        `Azure Key Vault ${vault} sent a nextLink to another host: ${url}`,
      );
    let renewed = false;
    for (let attempt = 0; ; attempt++) {
      const token = await tokens.getToken(renewed ? { forceRefresh: true } : {});
      let answer;
      try {
        answer = await once(url, token);
      } catch (error) {
        const e = error as NodeJS.ErrnoException;
        if (attempt < retries && !isTlsTrustError(e) && e.code !== 'ENOTFOUND') {
          await wait(attempt, undefined, `${e.code ?? e.message}`);
          continue;
        }
        const why = isTlsTrustError(e)
          ? `its certificate is not trusted (${e.code}); trust its CA with the CA option or NODE_EXTRA_CA_CERTS`
          : e.code === 'ENOTFOUND'
            ? `the host name does not resolve (${e.code}): check AzureKeyVault:Vault`
            : `${e.code ?? 'network error'}: ${e.message}`;
        throw new ToolError('ERR_KEY_VAULT', `Azure Key Vault ${vault} is unreachable: ${why}`, {
          cause: error,
        });
      }
      const { status, headers } = answer;
      const json = answer.json as VaultAnswer['json'];
      if (status === 200) return { status, json };
      const { code = '', innerCode: inner = '', message = '' } = graphErrorOf(json);
      if (status === 401 && !renewed) {
        renewed = true;
        continue;
      }
      if ((status === 429 || status >= 500) && attempt < retries) {
        await wait(attempt, Number(headers['retry-after']), `HTTP ${status}`);
        continue;
      }
      const target = operation === 'list' ? 'list the secrets' : `read secret ${name}`;
      const context = [`request: GET ${url.split('?')[0]}`, `status: ${status}${code ? ` ${code}` : ''}`];
      if (message) context.push(`message: ${message}`);
      if (status === 401) {
        const challenge = headers['www-authenticate'];
        if (challenge) context.push(`challenge: ${challenge}`);
        throw new ToolError(
          'ERR_KEY_VAULT',
          `Azure Key Vault ${vault} rejected the access token of ${who} (${code || 'Unauthorized'}): check the tenant and the vault URL`,
          { context },
        );
      }
      if (status === 404 && operation === 'get') return { status, json }; // deleted since the list: skip it
      if (status === 403 && inner === 'SecretDisabled') return { status, json };
      if (status === 403) {
        const permission = operation === 'list' ? 'List' : 'Get';
        throw new ToolError(
          'ERR_KEY_VAULT',
          `${who} may not ${target} in Azure Key Vault ${vault} (${inner || code || 'Forbidden'}): ` +
            `grant it the secret permissions Get and List (access policy), or the Key Vault Secrets User role (${permission} is missing)`,
          { context },
        );
      }
      throw new ToolError(
        'ERR_KEY_VAULT',
        `Azure Key Vault ${vault}: cannot ${target}: HTTP ${status}${code ? ` ${code}` : ''}`,
        {
          context,
        },
      );
    }
  }

  async function wait(attempt: number, retryAfterSeconds: number | undefined, why: string): Promise<void> {
    const ms = retryDelay({
      attemptCount: attempt + 1,
      retryAfter: Number.isFinite(retryAfterSeconds) ? retryAfterSeconds! * 1000 : undefined,
      retryPolicy: { backoffMs: retryDelayMs, retryAfter: 'floor', maxDelayMs: 30_000 },
    });
    logger.verbose(`Azure Key Vault ${vault}: ${why}; retry ${attempt + 1} of ${retries} in ${ms} ms`);
    await delay(ms);
  }

  return { get, close: () => agent.destroy() };
}
