import { readFile } from 'node:fs/promises';
import type https from 'node:https';
import { dirname, join, resolve } from 'node:path';
import tls from 'node:tls';
import { ToolError, UsageError } from '../errors.js';
import { isTlsTrustError } from '../graph/https-trust.js';
import { requestJson } from '../graph/http-json.js';
import { registerSecret } from '../redact.js';
import { silentLogger, type Logger } from '../types.js';
import { flattenJson, parseJsonText, type SettingsLayer } from './settings.js';

/**
 * Settings from CyberArk's Central Credential Provider (AAM CCP). The `CyberArk` section (read from the
 * earlier layers) says where and as whom to ask: `Server` (e.g. `https://ccp.contoso.com`),
 * `ApplicationId` (the AppID), `SafeName`, optional `Folder` (default Root), the client certificate for
 * mutual TLS (`ClientCertificate`: a PFX with `ClientCertificatePassword`, or a PEM certificate with
 * `ClientCertificateKey`, a PEM key file), and optional `CaFile` (PEM CA of the CCP's server certificate).
 * Relative paths are read from the settings file's folder.
 *
 * The sibling `appsettings.cyberark.agent.json` names, per setting, the object to fetch:
 * `{ "Connections": { "Contoso": { "ApplicationKey": "<object name>" } } }`; each object's `Content`
 * becomes that setting. Call: `GET {Server}/AIMWebService/api/Accounts?AppID=..&Safe=..&Folder=..&Object=..`.
 */

export const CYBERARK_AGENT_FILE = 'appsettings.cyberark.agent.json';

export interface CyberArkLayerOptions {
  /** Extra PEM CA trusted besides the system roots (and `CaFile`). */
  ca?: string;
  logger?: Logger;
  /** Per-request timeout; default 30 000 ms. */
  timeoutMs?: number;
  /** Objects fetched at once; default 4. */
  concurrency?: number;
}

export interface CyberArkSettings {
  /** Without a trailing slash. */
  server: string;
  appId: string;
  safe: string;
  folder?: string;
  /** TLS options for the client certificate (`pfx`+`passphrase`, or `cert`+`key`+`passphrase`), and `ca`. */
  tls: Pick<https.RequestOptions, 'pfx' | 'cert' | 'key' | 'passphrase' | 'ca'>;
  agentFile: string;
  /** Setting key → CyberArk object name, in file order. */
  objects: { key: string; object: string }[];
}

/**
 * Reads and checks the `CyberArk` section of `layers` and the agent file next to `plainSettingsPath`;
 * undefined when neither exists.
 */
export async function cyberArkSettings(
  layers: SettingsLayer[],
  plainSettingsPath: string,
  options: Pick<CyberArkLayerOptions, 'ca'> = {},
): Promise<CyberArkSettings | undefined> {
  const section = new Map<string, { value: string; origin: string }>();
  for (const layer of layers)
    for (const [key, value] of layer.values)
      if (key.toLowerCase().startsWith('cyberark:'))
        section.set(key.slice('cyberark:'.length).toLowerCase(), { value, origin: layer.origin });
  const folder = dirname(resolve(plainSettingsPath));
  const agentFile = join(folder, CYBERARK_AGENT_FILE);
  const agentText = await readFile(agentFile, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new UsageError('ERR_SETTINGS', `cannot read ${agentFile}: ${error.code ?? String(error)}`, {
      cause: error,
    });
  });
  if (section.size === 0 && agentText === undefined) return undefined;
  const fail = (message: string): never => {
    throw new UsageError('ERR_SETTINGS', message);
  };
  if (section.size === 0)
    fail(
      `${agentFile} names CyberArk objects, but there is no CyberArk section (Server, ApplicationId, SafeName...)`,
    );
  if (agentText === undefined)
    fail(
      `the CyberArk section is set, but ${agentFile} (which names the object of each setting) does not exist`,
    );

  const get = (name: string) => section.get(name.toLowerCase())?.value.trim() || undefined;
  const from = (name: string) => `CyberArk:${name} (from ${section.get(name.toLowerCase())?.origin})`;
  const where = [...new Set([...section.values()].map((v) => v.origin))].join(', ');
  const need = (name: string) => get(name) ?? fail(`CyberArk:${name} is missing (set it in ${where})`);
  const serverText = need('Server');
  let url: URL;
  try {
    url = new URL(serverText);
  } catch {
    return fail(`${from('Server')} is not an absolute URL (e.g. https://ccp.contoso.com)`);
  }
  if (url.protocol !== 'https:')
    fail(`${from('Server')} must be an https URL (the CCP is called over mutual TLS)`);
  if (url.username || url.password || url.search || url.hash)
    fail(`${from('Server')} must not carry credentials, a query or a fragment`);
  const appId = need('ApplicationId');
  const safe = need('SafeName');

  const password = section.get('clientcertificatepassword')?.value || undefined;
  registerSecret(password);
  const read = async (name: string): Promise<Buffer> => {
    const path = resolve(folder, get(name)!);
    try {
      return await readFile(path);
    } catch (error) {
      return fail(
        `${from(name)}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
      );
    }
  };
  const tlsOptions: CyberArkSettings['tls'] = {};
  if (get('ClientCertificate')) {
    const certificate = await read('ClientCertificate');
    if (certificate.includes('-----BEGIN CERTIFICATE-----')) {
      const key = get('ClientCertificateKey')
        ? await read('ClientCertificateKey')
        : /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/.test(certificate.toString('utf8'))
          ? certificate
          : fail(
              `${from('ClientCertificate')} is a PEM certificate: set CyberArk:ClientCertificateKey to its key file`,
            );
      Object.assign(tlsOptions, { cert: certificate, key, ...(password ? { passphrase: password } : {}) });
    } else Object.assign(tlsOptions, { pfx: certificate, ...(password ? { passphrase: password } : {}) });
    try {
      tls.createSecureContext(tlsOptions);
    } catch (error) {
      fail(
        `${from('ClientCertificate')} cannot be used (${(error as Error).message}): ` +
          'wrong CyberArk:ClientCertificatePassword, or a key that does not match the certificate?',
      );
    }
  } else if (get('ClientCertificateKey'))
    fail(`${from('ClientCertificateKey')} is set but CyberArk:ClientCertificate is not`);
  const cas = [...tls.rootCertificates, ...(options.ca ? [options.ca] : [])];
  if (get('CaFile')) cas.push((await read('CaFile')).toString('utf8'));
  if (cas.length > tls.rootCertificates.length) tlsOptions.ca = cas;

  const agent = flattenJson(parseJsonText(agentText!, agentFile, 'ERR_SETTINGS'), agentFile);
  const objects = [...agent.values].map(([key, object]) => ({ key, object: object.trim() }));
  for (const { key, object } of objects) if (!object) fail(`${agentFile}: ${key} names no CyberArk object`);
  return {
    server: `${url.origin}${url.pathname.replace(/\/+$/, '')}`,
    appId,
    safe,
    ...(get('Folder') ? { folder: get('Folder') } : {}),
    tls: tlsOptions,
    agentFile,
    objects,
  };
}

/**
 * The CyberArk layer: fetches the object named for each setting in `appsettings.cyberark.agent.json`
 * over mutual TLS and returns the contents as settings (origin `CyberArk <Server>`); undefined when
 * CyberArk is not configured. Every value is registered as a secret.
 * @example
 * const cyberArk = await readCyberArkLayer([plain, encrypted, keyVault], file, { ca });
 */
export async function readCyberArkLayer(
  layers: SettingsLayer[],
  plainSettingsPath: string,
  options: CyberArkLayerOptions = {},
): Promise<SettingsLayer | undefined> {
  const settings = await cyberArkSettings(layers, plainSettingsPath, options);
  if (!settings) return undefined;
  const logger = options.logger ?? silentLogger;
  const values = new Map<string, string>();
  const queue = [...settings.objects];
  // After a failure no new request starts, and the error waits for the ones in flight.
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    for (let item = queue.shift(); item && !failure; item = queue.shift()) {
      try {
        const value = await fetchObject(settings, item.key, item.object, options.timeoutMs ?? 30_000);
        registerSecret(value);
        values.set(item.key, value);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const workers = Math.min(options.concurrency ?? 4, Math.max(settings.objects.length, 1));
  await Promise.all(Array.from({ length: workers }, worker));
  if (failure) throw failure.error;
  logger.verbose(`CyberArk ${settings.server}: ${values.size} object(s) read for AppID ${settings.appId}`);
  return {
    origin: `CyberArk ${settings.server}`,
    values: new Map(settings.objects.map(({ key }) => [key, values.get(key)!])),
  };
}

/** CCP error codes → what to check. */
const HINTS: Record<string, string> = {
  APPAP004E:
    'check SafeName, Folder and the object name, and that the AppID and the Provider may use that safe',
  APPAP008E: 'the AppID is not defined in the Vault: check CyberArk:ApplicationId',
  APPAP306E:
    "the CCP does not accept this client for the AppID: check CyberArk:ClientCertificate and the AppID's allowed machines",
  APPAP007E: 'the CCP cannot reach its Vault: try again later',
  APPAP227E: 'several objects match: name the object exactly',
  APPAP228E: 'several objects match: name the object exactly',
  APPAP229E: 'several objects match: name the object exactly',
  APPAP282E: 'the CPM is changing this password: try again in a moment',
};

async function fetchObject(
  settings: CyberArkSettings,
  key: string,
  object: string,
  timeoutMs: number,
): Promise<string> {
  const url = new URL(`${settings.server}/AIMWebService/api/Accounts`);
  url.searchParams.set('AppID', settings.appId);
  url.searchParams.set('Safe', settings.safe);
  if (settings.folder) url.searchParams.set('Folder', settings.folder);
  url.searchParams.set('Object', object);
  const what = `CyberArk ${settings.server}: cannot fetch object '${object}' for ${key}`;
  const context = [
    `request: GET ${url.origin}${url.pathname} (AppID ${settings.appId}, Safe ${settings.safe})`,
  ];
  let answer: { status: number; json: any };
  try {
    answer = await requestJson(url, {
      method: 'GET',
      headers: { accept: 'application/json' },
      agent: false,
      ...settings.tls,
      timeoutMs,
    });
  } catch (error) {
    const e = error as NodeJS.ErrnoException;
    const refused =
      /certificate required|bad certificate|unknown ca|handshake failure/i.test(e.message) ||
      e.code === 'ECONNRESET' ||
      e.code === 'EPIPE';
    const why = isTlsTrustError(e)
      ? `the CCP's certificate is not trusted (${e.code}): set CyberArk:CaFile or trust its CA`
      : refused
        ? `the CCP refused the TLS connection (${e.code ?? e.message}): it requires a client certificate it trusts (CyberArk:ClientCertificate)`
        : `${e.code ?? 'network error'}: ${e.message}`;
    throw new ToolError('ERR_CYBERARK', `${what}: ${why}`, { context, cause: error });
  }
  const { status, json } = answer;
  if (status === 200 && typeof json?.Content === 'string') return json.Content as string;
  context.push(`status: ${status}`);
  if (typeof json?.ErrorCode === 'string') {
    const code = json.ErrorCode as string;
    const hint = HINTS[code] ?? (code.startsWith('APPAP133') ? HINTS.APPAP306E : undefined);
    throw new ToolError(
      'ERR_CYBERARK',
      `${what}: ${code}: ${String(json.ErrorMsg ?? '')}${hint ? ` (${hint})` : ''}`,
      {
        context,
      },
    );
  }
  throw new ToolError(
    'ERR_CYBERARK',
    `${what}: HTTP ${status}${status === 200 ? ' without Content' : ''} (is Server the CCP's address?)`,
    { context },
  );
}
