import { randomBytes } from 'node:crypto';
import type { EmuHandler, EmuRequest, EmuResponse } from './http-types.js';
import { KEY_VAULT_RESOURCE, type IdentityPlatform } from './identity.js';
import { decodeJwt } from './jwt.js';

/**
 * Azure Key Vault's secrets data plane, on the emulator's HTTPS origin under `/keyvault/<vault>/`, so
 * a vault URL is `https://127.0.0.1:<port>/keyvault/<vault>` (a real one is `https://<vault>.vault.azure.net`;
 * the connector builds every request from the vault URL, so a path prefix serves it as well as a host).
 * Modelled on the REST reference and recorded service answers: the 401 challenge, api-version checks,
 * name rules, access per app (`appid` of the bearer token), `SecretNotFound`, paging with `nextLink`.
 */

/** Versions the service accepts; anything else is `BadParameter`. */
export const KEY_VAULT_API_VERSIONS = [
  '2015-06-01',
  '2016-10-01',
  '7.0',
  '7.1',
  '7.2',
  '7.3',
  '7.4',
  '7.5',
  '7.6',
  '2025-07-01',
];
const LATEST = KEY_VAULT_API_VERSIONS.at(-1)!;
/** Default and largest page of the secrets list (the REST reference: "up to 25 results"). */
const MAX_PAGE = 25;
const SECRET_NAME = /^[0-9a-zA-Z-]{1,127}$/;
/** 3-24 characters, a letter first, a letter or digit last, no `--`. */
const VAULT_NAME = /^(?!.*--)[a-zA-Z][a-zA-Z0-9-]{1,22}[a-zA-Z0-9]$/;
const HELP_NOT_FOUND =
  'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125182';
const HELP_FORBIDDEN =
  'For help resolving this issue, please see https://go.microsoft.com/fwlink/?linkid=2125287';

export type SecretPermission = 'get' | 'list' | 'set';

export interface KeyVaultSecretInit {
  value: string;
  enabled?: boolean;
  contentType?: string;
  tags?: Record<string, string>;
}

export interface KeyVaultOptions {
  /** Vaults to create at start: secrets by name, and permissions by client id. */
  vaults?: Record<
    string,
    { secrets?: Record<string, string | KeyVaultSecretInit>; access?: Record<string, SecretPermission[]> }
  >;
  /** Default page size of the list (at most 25, the service's). */
  pageSize?: number;
  /** The `location` Key Vault names in its 403 messages and `x-ms-keyvault-region`. */
  location?: string;
}

/** A secret as Key Vault returns it (`SecretBundle`). */
export interface SecretBundle {
  value: string;
  id: string;
  contentType?: string;
  attributes: {
    enabled: boolean;
    created: number;
    updated: number;
    recoveryLevel: string;
    recoverableDays: number;
  };
  tags?: Record<string, string>;
}

export interface KeyVaultEmulator {
  /** Answers `/keyvault/...` on the emulator origin; undefined for every other path. */
  handler: EmuHandler;
  /** `https://127.0.0.1:<port>/keyvault/<vault>` (no trailing slash). */
  url(vault: string): string;
  createVault(vault: string): string;
  /** Adds a version (the latest) of a secret, creating the vault if needed. */
  setSecret(vault: string, name: string, secret: string | KeyVaultSecretInit): SecretBundle;
  deleteSecret(vault: string, name: string): boolean;
  /** Grants a client id (an app, or a managed identity) secret permissions on a vault. */
  allow(vault: string, clientId: string, permissions: SecretPermission[]): void;
  revoke(vault: string, clientId: string): void;
}

interface Version {
  version: string;
  bundle: SecretBundle;
}
interface Vault {
  name: string;
  secrets: Map<string, { name: string; versions: Version[] }>;
  access: Map<string, Set<SecretPermission>>;
}

/** Creates the Key Vault side of the emulator (no listener of its own: mount `handler` on the emulator). */
export function createKeyVault(
  options: KeyVaultOptions & {
    identity: IdentityPlatform;
    tenantId: string;
    origin: () => string;
    now: () => number;
  },
): KeyVaultEmulator {
  const { identity, tenantId, origin, now } = options;
  const pageSize = Math.min(Math.max(options.pageSize ?? MAX_PAGE, 1), MAX_PAGE);
  const location = options.location ?? 'emulator';
  const vaults = new Map<string, Vault>();
  const url = (vault: string) => `${origin()}/keyvault/${vault}`;

  function createVault(name: string): string {
    if (!VAULT_NAME.test(name))
      throw new Error(`vault name '${name}' is invalid (3-24 of a-z A-Z 0-9 -, a letter first, no '--')`);
    if (!vaults.has(name.toLowerCase()))
      vaults.set(name.toLowerCase(), { name, secrets: new Map(), access: new Map() });
    return url(name);
  }
  const vaultOf = (name: string) => {
    createVault(name);
    return vaults.get(name.toLowerCase())!;
  };

  function setSecret(vaultName: string, name: string, init: string | KeyVaultSecretInit): SecretBundle {
    if (!SECRET_NAME.test(name)) throw new Error(`secret name '${name}' is invalid (1-127 of 0-9 a-z A-Z -)`);
    const vault = vaultOf(vaultName);
    const secret = typeof init === 'string' ? { value: init } : init;
    const entry = vault.secrets.get(name.toLowerCase()) ?? { name, versions: [] };
    const version = randomBytes(16).toString('hex');
    const t = Math.floor(now() / 1000);
    const bundle: SecretBundle = {
      value: secret.value,
      id: `${url(vault.name)}/secrets/${entry.name}/${version}`,
      ...(secret.contentType !== undefined ? { contentType: secret.contentType } : {}),
      attributes: {
        enabled: secret.enabled ?? true,
        created: t,
        updated: t,
        recoveryLevel: 'Recoverable+Purgeable',
        recoverableDays: 90,
      },
      ...(secret.tags ? { tags: { ...secret.tags } } : {}),
    };
    entry.versions.push({ version, bundle });
    vault.secrets.set(name.toLowerCase(), entry);
    return structuredClone(bundle);
  }

  for (const [name, spec] of Object.entries(options.vaults ?? {})) {
    createVault(name);
    for (const [secret, value] of Object.entries(spec.secrets ?? {})) setSecret(name, secret, value);
    for (const [clientId, permissions] of Object.entries(spec.access ?? {}))
      vaultOf(name).access.set(clientId.toLowerCase(), new Set(permissions));
  }

  function handler(req: EmuRequest): EmuResponse | undefined {
    const match = /^\/keyvault\/([^/]+)(\/.*)?$/.exec(req.url.pathname);
    if (!match) return undefined;
    const answer = (status: number, body?: unknown, extra: Record<string, string> = {}): EmuResponse => ({
      status,
      headers: { ...serviceHeaders(req, location), ...extra },
      ...(body === undefined ? {} : { body }),
    });
    const error = (status: number, code: string, message: string, inner?: string) =>
      answer(status, { error: { code, message, ...(inner ? { innererror: { code: inner } } : {}) } });

    const vault = vaults.get(safeDecode(match[1]!).toLowerCase());
    // A vault that does not exist has no DNS name; the emulator can only say so with a 404.
    if (!vault) return error(404, 'NotFound', `Vault '${match[1]}' is not served by this emulator.`);

    const auth = identity.authenticate(req.headers.authorization, KEY_VAULT_RESOURCE, req.requestId);
    if (!auth.ok)
      return answer(
        401,
        {
          error: {
            code: 'Unauthorized',
            message: unauthorizedMessage(auth.reason, auth.message, req, tenantId),
          },
        },
        {
          'www-authenticate': `Bearer authorization="${origin()}/${tenantId}", resource="${KEY_VAULT_RESOURCE}"`,
        },
      );

    const apiVersion = req.url.searchParams.get('api-version');
    if (!apiVersion) return error(400, 'BadParameter', "The 'api-version' query parameter is missing.");
    if (!KEY_VAULT_API_VERSIONS.includes(apiVersion))
      return error(
        400,
        'BadParameter',
        `The specified version (${apiVersion}) is not recognized. Consider using the latest supported version (${LATEST}).`,
      );

    const forbidden = (permission: SecretPermission): EmuResponse | undefined => {
      if (vault.access.get(auth.appId.toLowerCase())?.has(permission)) return undefined;
      const who = `appid=${auth.appId};oid=${String(auth.claims.oid)};iss=${String(auth.claims.iss)}`;
      return error(
        403,
        'Forbidden',
        `The user, group or application '${who}' does not have secrets ${permission} permission on key vault '${vault.name};location=${location}'. ${HELP_FORBIDDEN}`,
        'AccessDenied',
      );
    };

    const parts = (match[2] ?? '').split('/').slice(1);
    if (parts[0]?.toLowerCase() !== 'secrets')
      return error(404, 'NotFound', 'The requested URI was not found.');
    if (parts.length === 1 || (parts.length === 2 && parts[1] === '')) {
      if (req.method !== 'GET') return answer(405, undefined, { allow: 'GET' });
      return forbidden('list') ?? list(vault, req, apiVersion);
    }
    const name = safeDecode(parts[1]!);
    if (!SECRET_NAME.test(name))
      return error(400, 'BadParameter', `The request URI contains an invalid name: ${name}`);
    const version = parts[2] ?? '';
    if (parts.length > 3) return error(404, 'NotFound', 'The requested URI was not found.');
    if (req.method === 'PUT' && version === '') {
      const denied = forbidden('set');
      if (denied) return denied;
      let body: any;
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch {
        return error(400, 'BadParameter', 'The request body is not valid JSON.');
      }
      if (typeof body?.value !== 'string') return error(400, 'BadParameter', 'Property value is required.');
      return answer(
        200,
        setSecret(vault.name, name, {
          value: body.value,
          ...(typeof body.contentType === 'string' ? { contentType: body.contentType } : {}),
          ...(body.tags && typeof body.tags === 'object' ? { tags: body.tags } : {}),
          ...(body.attributes?.enabled === false ? { enabled: false } : {}),
        }),
      );
    }
    if (req.method !== 'GET') return answer(405, undefined, { allow: version === '' ? 'GET, PUT' : 'GET' });
    const denied = forbidden('get');
    if (denied) return denied;
    const entry = vault.secrets.get(name.toLowerCase());
    const found = version ? entry?.versions.find((v) => v.version === version) : entry?.versions.at(-1);
    if (!found)
      return error(
        404,
        'SecretNotFound',
        `A secret with (name/id) ${version ? `${name}/${version}` : name} was not found in this key vault. ` +
          `If you recently deleted this secret you may be able to recover it using the correct recovery command. ${HELP_NOT_FOUND}`,
      );
    if (!found.bundle.attributes.enabled)
      return error(403, 'Forbidden', 'Operation get is not allowed on a disabled secret.', 'SecretDisabled');
    return answer(200, structuredClone(found.bundle));
  }

  /** `GET /secrets`: items without values, sorted by name, `$skiptoken` naming the last item returned. */
  function list(vault: Vault, req: EmuRequest, apiVersion: string): EmuResponse {
    const headers = serviceHeaders(req, location);
    const bad = (message: string): EmuResponse => ({
      status: 400,
      headers,
      body: { error: { code: 'BadParameter', message } },
    });
    const maxParam = req.url.searchParams.get('maxresults');
    const max = maxParam === null ? pageSize : Number(maxParam);
    if (!Number.isInteger(max) || max < 1 || max > MAX_PAGE)
      return bad(`The value of maxresults (${maxParam}) must be an integer between 1 and ${MAX_PAGE}.`);
    let after = '';
    const skip = req.url.searchParams.get('$skiptoken');
    if (skip !== null) {
      try {
        after = String(JSON.parse(Buffer.from(skip, 'base64url').toString('utf8')).NextMarker).toLowerCase();
      } catch {
        return bad('The $skiptoken is invalid.');
      }
    }
    const names = [...vault.secrets.keys()].sort().filter((n) => n > after);
    const page = names.slice(0, max);
    const value = page.map((key) => {
      const entry = vault.secrets.get(key)!;
      const { bundle } = entry.versions.at(-1)!;
      return {
        id: `${url(vault.name)}/secrets/${entry.name}`,
        ...(bundle.contentType !== undefined ? { contentType: bundle.contentType } : {}),
        attributes: { ...bundle.attributes },
        tags: { ...bundle.tags },
      };
    });
    let nextLink: string | null = null;
    if (names.length > page.length) {
      const token = Buffer.from(JSON.stringify({ NextMarker: page.at(-1), TargetLocation: 0 })).toString(
        'base64url',
      );
      const max = maxParam === null ? '' : `&maxresults=${maxParam}`;
      nextLink = `${url(vault.name)}/secrets?api-version=${apiVersion}&$skiptoken=${token}${max}`;
    }
    return { status: 200, headers, body: { value, nextLink } };
  }

  return {
    handler,
    url,
    createVault,
    setSecret,
    deleteSecret: (vault, name) =>
      vaults.get(vault.toLowerCase())?.secrets.delete(name.toLowerCase()) ?? false,
    allow(vault, clientId, permissions) {
      const v = vaultOf(vault);
      const set = v.access.get(clientId.toLowerCase()) ?? new Set<SecretPermission>();
      for (const p of permissions) set.add(p);
      v.access.set(clientId.toLowerCase(), set);
    },
    revoke: (vault, clientId) => void vaults.get(vault.toLowerCase())?.access.delete(clientId.toLowerCase()),
  };
}

/** The headers every Key Vault answer carries (as recorded from the service). */
function serviceHeaders(req: EmuRequest, location: string): Record<string, string> {
  const clientRequestId = req.headers['x-ms-client-request-id'];
  return {
    'cache-control': 'no-cache',
    pragma: 'no-cache',
    expires: '-1',
    'content-type': 'application/json; charset=utf-8',
    'x-ms-keyvault-region': location,
    'x-ms-request-id': req.requestId,
    'x-ms-keyvault-service-version': '1.9.2000.1',
    'x-ms-keyvault-network-info': 'conn_type=Ipv4;addr=127.0.0.1;act_addr_fam=InterNetwork;',
    'x-content-type-options': 'nosniff',
    'strict-transport-security': 'max-age=31536000;includeSubDomains',
    ...(typeof clientRequestId === 'string' ? { 'x-ms-client-request-id': clientRequestId } : {}),
  };
}

/** Key Vault's AKV messages for the failures it names; the identity platform's words for the rest. */
function unauthorizedMessage(reason: string, fallback: string, req: EmuRequest, tenantId: string): string {
  if (reason === 'empty') return 'AKV10000: Request is missing a Bearer or PoP token.';
  let claims: Record<string, unknown> = {};
  try {
    claims = decodeJwt(/^Bearer\s+(\S+)/i.exec(req.headers.authorization ?? '')?.[1] ?? '').payload;
  } catch {
    // Unreadable tokens keep the fallback message.
  }
  if (reason === 'audience')
    return `AKV10022: Invalid audience. Expected ${KEY_VAULT_RESOURCE}, found: ${String(claims.aud)}.`;
  if (reason === 'issuer')
    return `AKV10032: Invalid issuer. Expected one of https://sts.windows.net/${tenantId}/, found ${String(claims.iss)}.`;
  return fallback;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
