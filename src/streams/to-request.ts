import { ToolError } from '../errors.js';
import { entityInfo } from '../graph/schema.js';
import type {
  GeneratedPassword,
  LinkRow,
  ObjectReference,
  ObjectRow,
  Outcome,
  PlannedRequest,
} from '../types.js';
import { isGuid } from './decode-row.js';
import { licenceRequest, type LicenceChange, type SkuTable } from './license-request.js';
import { invitationRequest } from './invitation-request.js';
import { managerRequest } from './manager-request.js';
import { generatePassword } from './password.js';

/**
 * Command rows → Graph request descriptions (DESIGN §4, graph-protocol.md §8). Pure: nothing is sent.
 * URLs are relative with a leading slash (`/users/{id}`), the form `$batch` items take; a plain HTTP
 * client with a prefix URL strips the slash.
 */

export type { PlannedRequest, GeneratedPassword } from '../types.js';

export type RequestPlan =
  | { kind: 'request'; request: PlannedRequest; generatedPassword?: GeneratedPassword }
  /** Nothing to send, and nothing wrong: an update whose attribute cells are all empty. */
  | { kind: 'noop'; message: string }
  | { kind: 'invalid'; message: string; column?: string };

export interface ToRequestOptions {
  /** Graph base URL ending in the version, e.g. `https://graph.microsoft.com/v1.0/`. */
  graphBase: string;
  /** True when generated passwords have somewhere protected to go (`--password-file`). */
  passwordSink: boolean;
  /** Injectable for tests; generatePassword() by default. */
  generatePassword?: () => string;
  /** The pass-through column holding each new user's password recipient (mail delivery). */
  recipientColumn?: string;
  /** The tenant's SKUs, read once per run when a file has an `assignedLicenses` column. */
  skus?: SkuTable;
}

const JSON_HEADERS = { 'Content-Type': 'application/json' };
const PASSWORD_PATH = 'passwordProfile.password';
// Collections a linked object may be in (its id does not say which): ordered against all of them.
const LINK_TARGETS = ['users', 'groups', 'servicePrincipals'];
// group-post-groups.md: mailNickname is ASCII 0-127 without @ ( ) \ [ ] " ; : < > , and space, at most 64.
const NOT_IN_NICKNAME = /[^\x21-\x7e]|[@()\\[\]";:<>,]/g;

/** A mailNickname Graph accepts, derived from a display name; '' when nothing usable is left. */
export function mailNicknameFrom(displayName: string): string {
  return displayName.normalize('NFKD').replace(NOT_IN_NICKNAME, '').slice(0, 64);
}

/**
 * The lock key of the object whose key is `value`: `users/userPrincipalName=<upn>` or
 * `groups/mailNickname=<nick>`, lower case (Graph compares both ignoring case). A create holds it, and
 * so does every row that names the object by it: they keep their input order.
 */
export function referenceKey(collection: 'users' | 'groups', value: string): string {
  return `${collection}/${collection === 'users' ? 'userPrincipalName' : 'mailNickname'}=${value.toLowerCase()}`;
}

/**
 * The reference `value` makes when it is not an id (the row source checked its form): a value with an
 * `@` names a user by userPrincipalName, any other a group by mailNickname.
 */
export function referenceTo(value: string, column: string): ObjectReference | undefined {
  if (isGuid(value)) return undefined;
  const collection = value.includes('@') ? 'users' : 'groups';
  return {
    key: referenceKey(collection, value),
    collection,
    property: collection === 'users' ? 'userPrincipalName' : 'mailNickname',
    value,
    column,
  };
}

/**
 * The outcome of a row whose reference names no object (`why`, from the resolver): `failed` with
 * `ERR_REFERENCE`, or `skipped` for a `delete` (what it would remove is not there, as on a replay).
 */
export function unresolvedOutcome(command: string, why: string): Outcome {
  return command === 'delete'
    ? { status: 'skipped', message: `nothing to do: ${why}` }
    : { status: 'failed', errorCode: 'ERR_REFERENCE', message: why };
}

function checkOptions(options: ToRequestOptions): string {
  const base = options.graphBase;
  if (typeof base !== 'string' || !/^https?:\/\/[^/]+\/.*$/.test(base.endsWith('/') ? base : `${base}/`))
    throw new ToolError(
      'ERR_INVALID_OPTION',
      `graphBase must be an absolute URL, got ${JSON.stringify(base)}`,
    );
  return base.endsWith('/') ? base : `${base}/`;
}

function withSecrets(request: PlannedRequest): PlannedRequest {
  const profile = request.body?.passwordProfile;
  if (profile && typeof profile === 'object' && 'password' in profile) request.secretFields = [PASSWORD_PATH];
  return request;
}

function insertUser(row: ObjectRow, options: ToRequestOptions): RequestPlan {
  const body: Record<string, unknown> = { ...row.values };
  const upn = typeof body.userPrincipalName === 'string' ? body.userPrincipalName : '';
  const profile = (body.passwordProfile ?? {}) as Record<string, unknown>;
  const missing = entityInfo('user').requiredOnCreate.filter(
    (p) => p !== 'passwordProfile' && body[p] === undefined,
  );
  if (missing.length > 0)
    return {
      kind: 'invalid',
      column: missing[0],
      message: `insert user misses required ${missing.join(', ')}`,
    };
  let generatedPassword: GeneratedPassword | undefined;
  if (typeof profile.password !== 'string' || profile.password === '') {
    if (!options.passwordSink)
      return {
        kind: 'invalid',
        column: 'passwordProfile',
        message: `user ${upn} has no passwordProfile password and no --password-file was given`,
      };
    const password = (options.generatePassword ?? generatePassword)();
    body.passwordProfile = { forceChangePasswordNextSignIn: true, ...profile, password };
    generatedPassword = { file: row.file, line: row.line, userPrincipalName: upn, password };
    if (options.recipientColumn) {
      // Mailed passwords go to the address in this row's column (e.g. the manager's): without one, no user.
      const recipient = row.extra?.[options.recipientColumn]?.trim();
      if (!recipient)
        return {
          kind: 'invalid',
          column: options.recipientColumn,
          message: `no recipient for the generated password of ${upn}: column ${options.recipientColumn} is empty`,
        };
      generatedPassword.recipient = recipient;
    }
  }
  const request: PlannedRequest = {
    method: 'POST',
    url: '/users',
    body,
    headers: { ...JSON_HEADERS },
    objectKey: referenceKey('users', upn),
  };
  return {
    kind: 'request',
    request: withSecrets(request),
    ...(generatedPassword ? { generatedPassword } : {}),
  };
}

/**
 * Defaults for what Graph requires on `POST /groups` and the row leaves out: `securityEnabled: true`,
 * `mailEnabled: false`, `groupTypes: []` (a plain security group) and a `mailNickname` derived from
 * `displayName` (see {@link mailNicknameFrom}).
 */
function insertGroup(row: ObjectRow): RequestPlan {
  const body: Record<string, unknown> = { ...row.values };
  body.securityEnabled ??= true;
  body.mailEnabled ??= false;
  body.groupTypes ??= [];
  if (body.mailNickname === undefined && typeof body.displayName === 'string') {
    const nickname = mailNicknameFrom(body.displayName);
    if (nickname === '')
      return {
        kind: 'invalid',
        column: 'mailNickname',
        message: `cannot derive a mailNickname from displayName ${JSON.stringify(body.displayName)}: give one`,
      };
    body.mailNickname = nickname;
  }
  const missing = entityInfo('group').requiredOnCreate.filter((p) => body[p] === undefined);
  if (missing.length > 0)
    return {
      kind: 'invalid',
      column: missing[0],
      message: `insert group misses required ${missing.join(', ')}`,
    };
  const request: PlannedRequest = {
    method: 'POST',
    url: '/groups',
    body,
    headers: { ...JSON_HEADERS },
    objectKey: referenceKey('groups', String(body.mailNickname)),
    // group-post-groups.md: an app-only create without owners leaves a group only admins can manage.
    warning: `group ${String(body.displayName)} is created by an app without owners: add owners with a *_owners_group.csv link file`,
  };
  return { kind: 'request', request };
}

function objectRequest(row: ObjectRow, options: ToRequestOptions): RequestPlan {
  const { collection } = entityInfo(row.entity);
  if (row.command === 'insert' && row.values.assignedLicenses !== undefined)
    return {
      kind: 'invalid',
      column: 'assignedLicenses',
      message: 'licences are assigned by an update row of the created user (its id is not known yet)',
    };
  if (row.command === 'insert') {
    // Nothing to clear on a new object: a `null` cell is the same as an empty one.
    const values = Object.fromEntries(Object.entries(row.values).filter(([, v]) => v !== null));
    // A row with invitation cells invites a guest (POST /invitations) instead of creating a member.
    if (row.entity === 'user' && row.invitation) return invitationRequest({ ...row, values });
    if (row.entity === 'user') return insertUser({ ...row, values }, options);
    if (row.entity === 'group') return insertGroup({ ...row, values });
    return { kind: 'invalid', column: '@odata.type', message: `insert of ${row.entity} is not supported` };
  }
  const given = row.id ?? '';
  const ref = referenceTo(given, 'id');
  // A row that names its object by key holds the key a create of it holds: it waits for that create.
  const objectKey = ref ? ref.key : `${collection}/${given.toLowerCase()}`;
  const { assignedLicenses, ...values } = row.values;
  const withLicences = row.command === 'update' && row.entity === 'user' && assignedLicenses !== undefined;
  if (row.command === 'update' && !withLicences && Object.keys(values).length === 0)
    return { kind: 'noop', message: 'nothing to update: every attribute cell is empty' };
  const build = (id: string): PlannedRequest => {
    const url = `/${collection}/${encodeURIComponent(id)}`;
    if (row.command === 'delete') return { method: 'DELETE', url, objectKey };
    const licences = withLicences
      ? licenceRequest(id, objectKey, assignedLicenses as LicenceChange, options.skus)
      : undefined;
    if (licences && Object.keys(values).length === 0) return licences;
    const request: PlannedRequest = {
      method: 'PATCH',
      url,
      body: values,
      headers: { ...JSON_HEADERS },
      objectKey,
    };
    if (licences) {
      // The attributes first (a usageLocation the licences need), then the licences.
      request.then = `${licences.method} ${licences.url}, then ${licences.then}`;
      request.next = (answer) =>
        answer.status >= 200 && answer.status < 300
          ? { request: licences, carry: { status: 'ok', httpStatus: answer.status } }
          : undefined;
    }
    return withSecrets(request);
  };
  if (!ref) return { kind: 'request', request: build(given) };
  // Graph takes `/users/{userPrincipalName}`; a group needs its id, looked up by mailNickname.
  const reference = ref.collection === 'users' ? { ...ref, direct: true } : ref;
  return {
    kind: 'request',
    request: { ...build(given), references: [reference], resolve: ([id]) => build(id!) },
  };
}

function linkRequest(row: LinkRow, graphBase: string): RequestPlan {
  const ownerRef = referenceTo(row.ownerId, `${row.entity}Id`);
  const targetRef = referenceTo(row.targetId, 'id');
  const references = [ownerRef, targetRef].filter((r): r is ObjectReference => r !== undefined);
  const build = (ownerId: string, targetId: string) => linkRequestOf(row, graphBase, ownerId, targetId);
  if (!references.length) return { kind: 'request', request: build(row.ownerId, row.targetId) };
  const { collection } = entityInfo(row.entity);
  // The lock keys of the names as given: the row waits for the create of an object it names by key.
  const ownerKey = ownerRef?.key ?? `${collection}/${row.ownerId.toLowerCase()}`;
  const targetKeys = targetRef
    ? [targetRef.key]
    : LINK_TARGETS.map((c) => `${c}/${row.targetId.toLowerCase()}`);
  const keys =
    row.navigation === 'manager'
      ? { objectKey: `${ownerKey}/manager`, sharedKeys: [ownerKey, ...targetKeys] }
      : {
          objectKey:
            row.navigation === 'owners'
              ? `${ownerKey}/owners`
              : `${ownerKey}/${row.navigation}/${targetRef?.key ?? row.targetId.toLowerCase()}`,
          sharedKeys: [ownerKey, ...targetKeys],
        };
  const resolve = (ids: string[]) => {
    const at = [...ids];
    return build(ownerRef ? at.shift()! : row.ownerId, targetRef ? at.shift()! : row.targetId);
  };
  return {
    kind: 'request',
    request: { ...build(row.ownerId, row.targetId), ...keys, references, resolve },
  };
}

function linkRequestOf(row: LinkRow, graphBase: string, ownerId: string, targetId: string): PlannedRequest {
  if (row.navigation === 'manager') return managerRequest({ ...row, ownerId, targetId }, graphBase);
  const { collection } = entityInfo(row.entity);
  const owner = `/${collection}/${encodeURIComponent(ownerId)}/${row.navigation}`;
  const ownerKey = `${collection}/${ownerId.toLowerCase()}`;
  const target = targetId.toLowerCase();
  // Adding and removing different members commute; owner changes do not (the last owner stays).
  const objectKey =
    row.navigation === 'owners' ? `${ownerKey}/owners` : `${ownerKey}/${row.navigation}/${target}`;
  const sharedKeys = [ownerKey, ...LINK_TARGETS.map((c) => `${c}/${target}`)];
  const request: PlannedRequest =
    row.command === 'insert'
      ? {
          method: 'POST',
          url: `${owner}/$ref`,
          body: { '@odata.id': `${graphBase}directoryObjects/${targetId}` },
          headers: { ...JSON_HEADERS },
          objectKey,
          sharedKeys,
        }
      : {
          method: 'DELETE',
          url: `${owner}/${encodeURIComponent(targetId)}/$ref`,
          objectKey,
          sharedKeys,
        };
  // Without /$ref a DELETE removes the member object itself (group-delete-members.md): never let one out.
  if (!request.url.endsWith('/$ref')) throw new Error(`link request without /$ref: ${request.url}`);
  return request;
}

/**
 * The Graph request for one valid command row: `POST /users|/groups`, `PATCH|DELETE /{collection}/{id}`,
 * `POST /{collection}/{owner}/{nav}/$ref`, `DELETE /{collection}/{owner}/{nav}/{id}/$ref`; a manager row
 * reads the manager first, then `PUT` or `DELETE /users/{id}/manager/$ref` (see manager-request.ts). A user created
 * without a password gets a generated one with `forceChangePasswordNextSignIn: true`, returned apart in
 * `generatedPassword` for the protected sink; the request body still carries it, so print requests only
 * through {@link describeRequest}.
 *
 * @example toRequest(linkRow, { graphBase: 'https://graph.microsoft.com/v1.0/', passwordSink: false })
 */
export function toRequest(row: ObjectRow | LinkRow, options: ToRequestOptions): RequestPlan {
  const graphBase = checkOptions(options);
  return row.kind === 'link' ? linkRequest(row, graphBase) : objectRequest(row, options);
}

function redact(value: unknown, path: string, secrets: Set<string>): unknown {
  if (Array.isArray(value)) return value.map((v) => redact(v, path, secrets));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([k, v]) => {
      const at = path ? `${path}.${k}` : k;
      // Any `password` key is hidden too: a secret must not depend on a caller listing it.
      return [k, secrets.has(at) || /password$/i.test(k) ? '***' : redact(v, at, secrets)];
    }),
  );
}

/** The request without secrets (`passwordProfile.password` → `***`), as an object for NDJSON. */
export function redactRequest(request: PlannedRequest): { method: string; url: string; body?: unknown } {
  const { method, url, body } = request;
  if (body === undefined) return { method, url };
  return { method, url, body: redact(body, '', new Set(request.secretFields)) };
}

/**
 * One printable line for `--dry-run` and `--verbose`: `POST /users {"displayName":…,"passwordProfile":{"password":"***"}}`,
 * followed by what the row does next when it sends several requests (`GET …, then PUT …`).
 */
export function describeRequest(request: PlannedRequest): string {
  const { method, url, body } = redactRequest(request);
  const line = body === undefined ? `${method} ${url}` : `${method} ${url} ${JSON.stringify(body)}`;
  return request.then ? `${line}, then ${request.then}` : line;
}
