import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { GRAPH_RESOURCE, KEY_VAULT_RESOURCE, type IdentityPlatform } from './identity.js';
import { decodeJwt } from './jwt.js';

/**
 * An App Service style managed-identity endpoint (protocol 2019-08-01), on its own plain-HTTP listener
 * on 127.0.0.1 as App Service's `http://localhost:<port>/msi/token` is:
 * `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=<resource>[&client_id=<id>]` with the header
 * `X-IDENTITY-HEADER: {IDENTITY_HEADER}` → `{access_token, expires_on, resource, token_type, client_id}`,
 * `expires_on` in epoch seconds as a string. Errors use App Service's `{statusCode, message, correlationId}`.
 * Each managed identity is an app registration of the emulated tenant (its client id), so its tokens
 * are checked like any other app's by Graph and Key Vault.
 */

export interface ManagedIdentityOptions {
  /** Port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /** The `IDENTITY_HEADER` value; random by default. */
  header?: string;
  /** Client id of the system-assigned identity (random by default); `false` for none. */
  systemAssigned?: string | false;
  /** Client ids of user-assigned identities (chosen with `client_id`). */
  userAssigned?: string[];
  /** Graph application permissions of every identity (Graph roles); default none. */
  roles?: string[];
}

export interface ManagedIdentityEndpoint {
  /** `http://127.0.0.1:<port>/msi/token` (the `IDENTITY_ENDPOINT`). */
  endpoint: string;
  /** The `IDENTITY_HEADER`. */
  header: string;
  /** Client id of the system-assigned identity ('' when there is none). */
  clientId: string;
  userAssigned: string[];
  /** The two variables App Service sets, ready to merge into an env. */
  env: { IDENTITY_ENDPOINT: string; IDENTITY_HEADER: string };
  /** Every request: query parameters (the header value is never recorded) and the status answered. */
  requests: { query: Record<string, string>; status: number }[];
  close(): Promise<void>;
}

const API_VERSION = '2019-08-01';
const RESOURCES = new Map([
  [GRAPH_RESOURCE, GRAPH_RESOURCE],
  [KEY_VAULT_RESOURCE, KEY_VAULT_RESOURCE],
]);

/** Starts the managed-identity endpoint and registers its identities with the identity platform. */
export async function startManagedIdentity(
  options: ManagedIdentityOptions & { identity: IdentityPlatform },
): Promise<ManagedIdentityEndpoint> {
  const header = options.header ?? randomUUID();
  const systemAssigned = options.systemAssigned === false ? '' : (options.systemAssigned ?? randomUUID());
  const userAssigned = options.userAssigned ?? [];
  for (const clientId of [systemAssigned, ...userAssigned].filter(Boolean))
    options.identity.addApp({
      clientId,
      displayName: `managed identity ${clientId}`,
      roles: options.roles ?? [],
    });
  const requests: ManagedIdentityEndpoint['requests'] = [];
  const sha = (s: string) => createHash('sha256').update(s).digest();

  function answer(req: IncomingMessage): { status: number; body?: unknown } {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const fail = (status: number, message: string) => ({
      status,
      body: { statusCode: status, message, correlationId: randomUUID() },
    });
    if (url.pathname.toLowerCase() !== '/msi/token') return { status: 404 };
    if (req.method !== 'GET') return { status: 405 };
    const given = req.headers['x-identity-header'];
    if (typeof given !== 'string' || !timingSafeEqual(sha(given), sha(header)))
      return fail(401, 'The X-IDENTITY-HEADER header is missing or does not match IDENTITY_HEADER.');
    const apiVersion = url.searchParams.get('api-version');
    if (apiVersion !== API_VERSION)
      return fail(400, `The api-version '${apiVersion ?? ''}' is not supported; use ${API_VERSION}.`);
    const resource = url.searchParams.get('resource');
    if (!resource) return fail(400, 'The resource parameter is required.');
    const audience = RESOURCES.get(resource.replace(/\/$/, '').toLowerCase());
    if (!audience)
      return fail(400, `AADSTS500011: The resource principal named ${resource} was not found in the tenant.`);
    const ids = ['client_id', 'principal_id', 'object_id', 'mi_res_id'].filter((p) =>
      url.searchParams.has(p),
    );
    if (ids.length > 1) return fail(400, `Only one of ${ids.join(', ')} may be given.`);
    const clientId = url.searchParams.get('client_id');
    // Object ids and resource ids of identities are not modelled: only the client id chooses one.
    const chosen =
      ids.length === 0
        ? systemAssigned
        : clientId && userAssigned.some((u) => u.toLowerCase() === clientId.toLowerCase())
          ? clientId
          : '';
    if (!chosen) return fail(400, 'Unable to load the proper Managed Identity.');
    const token = options.identity.issueAccessToken(chosen, audience);
    const exp = Number(decodeJwt(token).payload.exp);
    return {
      status: 200,
      body: {
        access_token: token,
        expires_on: String(exp),
        resource,
        token_type: 'Bearer',
        client_id: chosen,
      },
    };
  }

  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    req.on('end', () => {
      let result: { status: number; body?: unknown };
      try {
        result = answer(req);
      } catch (error) {
        result = {
          status: 500,
          body: { statusCode: 500, message: String(error), correlationId: randomUUID() },
        };
      }
      const query = Object.fromEntries(new URL(req.url ?? '/', 'http://127.0.0.1').searchParams);
      requests.push({ query, status: result.status });
      const body = result.body === undefined ? undefined : Buffer.from(JSON.stringify(result.body));
      res.writeHead(result.status, {
        server: 'Kestrel',
        'x-correlation-id': randomUUID(),
        ...(body ? { 'content-type': 'application/json; charset=utf-8', 'content-length': body.length } : {}),
      });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const endpoint = `http://127.0.0.1:${port}/msi/token`;
  return {
    endpoint,
    header,
    clientId: systemAssigned,
    userAssigned,
    env: { IDENTITY_ENDPOINT: endpoint, IDENTITY_HEADER: header },
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
