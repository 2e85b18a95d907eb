import { entityInfo, findProperty, isDirectoryExtension, type EntityName } from '../graph/schema.js';
import { storedLinks, type StoredObject } from './store.js';

/**
 * Properties Graph v1.0 returns without `$select` (users.md "default properties"; for other types the
 * list and get responses of the docs' examples: test/fixtures/graph-docs).
 */
export const DEFAULT_PROPERTIES: Record<EntityName, string[]> = {
  user: [
    'businessPhones',
    'displayName',
    'givenName',
    'jobTitle',
    'mail',
    'mobilePhone',
    'officeLocation',
    'preferredLanguage',
    'surname',
    'userPrincipalName',
    'id',
  ],
  group: [
    'id',
    'deletedDateTime',
    'classification',
    'createdDateTime',
    'description',
    'displayName',
    'expirationDateTime',
    'groupTypes',
    'isAssignableToRole',
    'mail',
    'mailEnabled',
    'mailNickname',
    'membershipRule',
    'membershipRuleProcessingState',
    'onPremisesDomainName',
    'onPremisesLastSyncDateTime',
    'onPremisesNetBiosName',
    'onPremisesSamAccountName',
    'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled',
    'preferredDataLocation',
    'preferredLanguage',
    'proxyAddresses',
    'renewedDateTime',
    'resourceBehaviorOptions',
    'resourceProvisioningOptions',
    'securityEnabled',
    'securityIdentifier',
    'theme',
    'uniqueName',
    'visibility',
    'onPremisesProvisioningErrors',
    'serviceProvisioningErrors',
  ],
  servicePrincipal: [
    'id',
    'deletedDateTime',
    'accountEnabled',
    'alternativeNames',
    'appDisplayName',
    'appDescription',
    'appId',
    'applicationTemplateId',
    'appOwnerOrganizationId',
    'appRoleAssignmentRequired',
    'description',
    'displayName',
    'homepage',
    'loginUrl',
    'logoutUrl',
    'notes',
    'notificationEmailAddresses',
    'preferredSingleSignOnMode',
    'replyUrls',
    'servicePrincipalNames',
    'servicePrincipalType',
    'signInAudience',
    'tags',
    'appRoles',
    'oauth2PermissionScopes',
    'addIns',
    'disabledByMicrosoftStatus',
    'info',
    'keyCredentials',
    'passwordCredentials',
    'preferredTokenSigningKeyThumbprint',
    'resourceSpecificApplicationPermissions',
    'samlSingleSignOnSettings',
    'tokenEncryptionKeyId',
    'verifiedPublisher',
  ],
  directoryRole: ['id', 'deletedDateTime', 'description', 'displayName', 'roleTemplateId'],
  orgContact: [
    'id',
    'deletedDateTime',
    'companyName',
    'department',
    'displayName',
    'givenName',
    'jobTitle',
    'mail',
    'mailNickname',
    'surname',
    'addresses',
    'phones',
    'proxyAddresses',
    'onPremisesLastSyncDateTime',
    'onPremisesSyncEnabled',
    'onPremisesProvisioningErrors',
    'serviceProvisioningErrors',
  ],
  device: [
    'id',
    'deletedDateTime',
    'accountEnabled',
    'alternativeSecurityIds',
    'approximateLastSignInDateTime',
    'complianceExpirationDateTime',
    'deviceCategory',
    'deviceId',
    'deviceMetadata',
    'deviceOwnership',
    'deviceVersion',
    'displayName',
    'enrollmentProfileName',
    'enrollmentType',
    'isCompliant',
    'isManaged',
    'isRooted',
    'managementType',
    'manufacturer',
    'mdmAppId',
    'model',
    'onPremisesLastSyncDateTime',
    'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled',
    'operatingSystem',
    'operatingSystemVersion',
    'physicalIds',
    'profileType',
    'registrationDateTime',
    'systemLabels',
    'trustType',
  ],
};

/** Navigations tracked by a delta round without `$select` (group-delta.md, directoryrole-delta.md). */
const DEFAULT_DELTA_NAVIGATIONS: Partial<Record<EntityName, string[]>> = {
  group: ['members'],
  directoryRole: ['members'],
};

export interface Selection {
  /** Structural properties to return, in order (`id` included for delta). */
  props: string[];
  /** Navigations to return as `<nav>@delta`. */
  navs: string[];
  /** True when the client gave `$select`: only these properties are tracked by delta. */
  explicit: boolean;
}

export type SelectResult =
  { ok: true; selection: Selection } | { ok: false; status: number; code: string; message: string };

/**
 * Parses `$select` for an entity the way Graph does: names are case-insensitive, unknown ones are an
 * error, properties outside the main store are not supported on collections.
 */
export function resolveSelect(entity: EntityName, select: string | null, forDelta: boolean): SelectResult {
  if (select === null || select.trim() === '') {
    return {
      ok: true,
      selection: {
        props: DEFAULT_PROPERTIES[entity],
        navs: forDelta ? (DEFAULT_DELTA_NAVIGATIONS[entity] ?? []) : [],
        explicit: false,
      },
    };
  }
  const info = entityInfo(entity);
  const lower = new Map([...info.properties.keys()].map((k) => [k.toLowerCase(), k]));
  const props: string[] = [];
  const navs: string[] = [];
  for (const raw of select.split(',')) {
    const asked = raw.trim();
    if (!asked) continue;
    const name = isDirectoryExtension(asked) ? asked : lower.get(asked.toLowerCase());
    const property = name === undefined ? undefined : findProperty(entity, name);
    if (!property || !name)
      return {
        ok: false,
        status: 400,
        code: 'Request_BadRequest',
        message: `Could not find a property named '${asked}' on type 'microsoft.graph.${entity}'.`,
      };
    if (property.getOnly)
      return {
        ok: false,
        status: 501,
        code: 'NotImplemented',
        message: 'This operation target is not yet supported.',
      };
    if (property.kind === 'navigation') {
      if (!forDelta || !storedLinks(entity).includes(name))
        return { ok: false, status: 400, code: 'Request_UnsupportedQuery', message: 'Unsupported Query.' };
      if (!navs.includes(name)) navs.push(name);
    } else if (!props.includes(name)) props.push(name);
  }
  // Delta always returns id; a list or GET returns just what was selected (user-get.md example 3).
  if (forDelta && !props.includes('id')) props.push('id');
  return { ok: true, selection: { props, navs, explicit: true } };
}

/** Properties whose changes delta does not report, though they can be selected (user-delta.md). */
const NOT_TRACKED: Partial<Record<EntityName, string[]>> = { user: ['licenseAssignmentStates'] };
const UNTRACKED = new Map<EntityName, Set<string>>();

/**
 * Properties whose changes never put an object in a delta page: those stored outside the main
 * directory store, and the few Graph documents as not tracked (delta-query-overview.md).
 */
export function untrackedProperties(entity: EntityName): Set<string> {
  let set = UNTRACKED.get(entity);
  if (!set) {
    set = new Set(NOT_TRACKED[entity] ?? []);
    for (const p of entityInfo(entity).properties.values()) if (p.getOnly) set.add(p.name);
    UNTRACKED.set(entity, set);
  }
  return set;
}

const COLLECTIONS = new Map<EntityName, Set<string>>();
function collectionProps(entity: EntityName): Set<string> {
  let set = COLLECTIONS.get(entity);
  if (!set) {
    set = new Set(
      [...entityInfo(entity).properties.values()]
        .filter((p) => p.isCollection && p.kind === 'structural')
        .map((p) => p.name),
    );
    COLLECTIONS.set(entity, set);
  }
  return set;
}

/**
 * An object as Graph returns it. With `nulls` (list and GET) unset properties come back as `null`;
 * in delta pages they are omitted ("never set → omitted", user-delta.md). The store keeps no empty
 * collections (the directory does not tell "empty" from "never set"): lists show them as `[]`.
 */
export function renderObject(
  object: StoredObject,
  props: readonly string[],
  options: { nulls: boolean; odataType?: boolean },
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (options.odataType) out['@odata.type'] = entityInfo(object.entity).odataType;
  for (const p of props) {
    if (p === 'id') {
      out.id = object.id;
      continue;
    }
    if (p === 'deletedDateTime') {
      if (object.deletedAt || options.nulls) out[p] = object.deletedAt ?? null;
      continue;
    }
    const v = object.data[p];
    if (v !== undefined) out[p] = v;
    else if (options.nulls) out[p] = collectionProps(object.entity).has(p) ? [] : null;
  }
  return out;
}
