import type { EmuResponse } from './http-types.js';

/**
 * The identity platform's error answers: Entra's AADSTS catalogue as the emulator uses it, and the
 * response shape every token-endpoint error shares (status, OAuth `error`, `error_description` with
 * trace and correlation ids, `error_codes`, `timestamp`, `error_uri`).
 */

const CERT_DOCS =
  'https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials';
const NOT_INSTALLED =
  'This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.';
const keysHelp = (appId: string) =>
  `Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '${appId}'. ` +
  'Review the documentation at https://docs.microsoft.com/en-us/graph/deployments to determine the corresponding service endpoint ' +
  'and https://docs.microsoft.com/en-us/graph/api/application-get?view=graph-rest-1.0&tabs=http to build a query request URL, ' +
  `such as 'https://graph.microsoft.com/beta/applications/${appId}'`;

/**
 * Entra's answers by AADSTS code: HTTP status, OAuth `error`, and the first line of `error_description`
 * (texts as Entra words them; see https://login.microsoftonline.com/error?code=N).
 */
export const STS = {
  50027: [400, 'invalid_request', () => 'JWT token is invalid or malformed.'],
  50048: [401, 'invalid_client', () => 'Subject must match Issuer claim in the client assertion.'],
  50013: [
    401,
    'invalid_client',
    (reason: string) => `Assertion failed signature validation. [Reason - ${reason}]`,
  ],
  700211: [
    400,
    'invalid_client',
    (issuer: string) =>
      `No matching federated identity record found for presented assertion issuer '${issuer}'.`,
  ],
  700212: [
    400,
    'invalid_client',
    (audience: string) =>
      `No matching federated identity record found for presented assertion audience '${audience}'.`,
  ],
  700213: [
    400,
    'invalid_client',
    (subject: string) =>
      `No matching federated identity record found for presented assertion subject '${subject}'.`,
  ],
  70003: [
    400,
    'unsupported_grant_type',
    (grant: string) => `The app requested an unsupported grant type '${grant}'.`,
  ],
  70011: [
    400,
    'invalid_scope',
    (scope: string) =>
      `The provided value for the input parameter 'scope' is not valid. The scope ${scope} is not valid.`,
  ],
  90002: [
    400,
    'invalid_request',
    (tenant: string) =>
      `Tenant '${tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. ` +
      'Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.',
  ],
  500011: [
    400,
    'invalid_resource',
    (resource: string, tenant: string) =>
      `The resource principal named ${resource} was not found in the tenant named ${tenant}. ${NOT_INSTALLED} ` +
      'You might have sent your authentication request to the wrong tenant.',
  ],
  700016: [
    400,
    'unauthorized_client',
    (appId: string, tenant: string) =>
      `Application with identifier '${appId}' was not found in the directory '${tenant}'. ${NOT_INSTALLED} ` +
      'You may have sent your authentication request to the wrong tenant.',
  ],
  700021: [
    401,
    'invalid_client',
    () =>
      `Client assertion application identifier doesn't match 'client_id' parameter. Review the documentation at ${CERT_DOCS} .`,
  ],
  700023: [
    401,
    'invalid_client',
    () =>
      `Client assertion audience claim does not match Realm issuer. Review the documentation at ${CERT_DOCS} .`,
  ],
  700024: [
    401,
    'invalid_client',
    (now: string, from: string, to: string) =>
      `Client assertion is not within its valid time range. Current time: ${now}, assertion valid from ${from}, expiry time of ` +
      `assertion ${to}. Review the documentation at https://learn.microsoft.com/entra/identity-platform/certificate-credentials .`,
  ],
  700027: [
    401,
    'invalid_client',
    (reason: string, details: string, appId: string) =>
      `Client assertion contains an invalid signature. [Reason - ${reason}, ${details}, ${keysHelp(appId)}]`,
  ],
  900144: [
    400,
    'invalid_request',
    (name: string) => `The request body must contain the following parameter: '${name}'.`,
  ],
  900561: [
    400,
    'invalid_request',
    (method: string) => `The endpoint only accepts POST, OPTIONS requests. Received a ${method} request.`,
  ],
  1002012: [
    400,
    'invalid_scope',
    (scope: string) =>
      `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default ` +
      'suffixed to the resource identifier (application ID URI).',
  ],
  5002738: [
    400,
    'invalid_request',
    (alg: string) =>
      `Invalid JWT token. '${alg}' is not a supported signature algorithm. Supported signing algorithms are: 'RS256, PS256, HS256'`,
  ],
  7000215: [
    401,
    'invalid_client',
    (appId: string) =>
      'Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client ' +
      `secret ID, for a secret added to app '${appId}'.`,
  ],
  7000216: [
    401,
    'invalid_client',
    () =>
      "'client_assertion', 'client_secret' or 'request' is required for the 'client_credentials' grant type.",
  ],
  9000411: [
    400,
    'invalid_request',
    (name: string) => `The request is not properly formatted. The parameter '${name}' is duplicated.`,
  ],
} as const;
export type StsCode = keyof typeof STS;

export interface StsContext {
  traceId: string;
  correlationId: string;
}

/** `2024-10-02 22:05:03Z`, the form of Entra's `timestamp`. */
const stsTimestamp = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace('T', ' ')
    .replace(/\.\d+Z$/, 'Z');
/** `2024-10-02T22:05:03.0000000Z`, the form of times inside AADSTS700024. */
export const stsTime = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '0000Z');

/** One AADSTS error answer, as Entra words it at `nowMs`. */
export function stsErrorAt<C extends StsCode>(
  nowMs: number,
  ctx: StsContext,
  code: C,
  ...args: Parameters<(typeof STS)[C][2]>
): EmuResponse {
  const [status, error, text] = STS[code];
  const timestamp = stsTimestamp(nowMs);
  const firstLine = `AADSTS${code}: ${(text as (...a: unknown[]) => string)(...args)}`;
  return {
    status,
    headers: stsHeaders(ctx),
    body: {
      error,
      error_description: `${firstLine}\r\nTrace ID: ${ctx.traceId}\r\nCorrelation ID: ${ctx.correlationId}\r\nTimestamp: ${timestamp}`,
      error_codes: [code],
      timestamp,
      trace_id: ctx.traceId,
      correlation_id: ctx.correlationId,
      error_uri: `https://login.microsoftonline.com/error?code=${code}`,
    },
  };
}

/** The headers of every token-endpoint answer, success or error. */
export function stsHeaders(ctx: StsContext): Record<string, string> {
  return {
    'Content-Type': 'application/json; charset=utf-8',
    'Cache-Control': 'no-store, no-cache',
    Pragma: 'no-cache',
    Expires: '-1',
    'x-ms-request-id': ctx.traceId,
  };
}
