import catalogue from './graph-entity-properties.json' with { type: 'json' };
import { closest } from '../suggest.js';

/**
 * The v1.0 property catalogue of the directory entities we handle, extracted from Microsoft's CSDL
 * (msgraph-metadata), plus what the CSDL does not say and the Graph docs do: which properties are
 * returned only by a single-object GET, which are read-only for writes, and which are required on create.
 */

export const ENTITY_NAMES = [
  'user',
  'group',
  'servicePrincipal',
  'directoryRole',
  'orgContact',
  'device',
] as const;
export type EntityName = (typeof ENTITY_NAMES)[number];

export interface PropertyInfo {
  name: string;
  /** `Edm.String`, `Edm.Boolean`, `Edm.Int32`, `Edm.DateTimeOffset`, `Edm.Guid`, or `microsoft.graph.<complex|enum>`. */
  type: string;
  isCollection: boolean;
  kind: 'structural' | 'navigation';
  nullable: boolean;
  /** A complex type: encoded as JSON in CSV cells. */
  complex: boolean;
  /** An enum type: a string on the wire. */
  isEnum: boolean;
  /** Returned only by `GET /{collection}/{id}`: never by list or delta (DESIGN.md §2). */
  getOnly: boolean;
  /** Cannot be written with POST/PATCH. */
  readOnly: boolean;
}

export interface EntityInfo {
  name: EntityName;
  /** `#microsoft.graph.user` */
  odataType: string;
  /** `users` */
  collection: string;
  properties: Map<string, PropertyInfo>;
  /** Properties Graph requires on `POST /{collection}`. */
  requiredOnCreate: string[];
  /** Navigation properties exported as link tables and written with `$ref`. */
  linkNavigations: string[];
}

const COLLECTIONS: Record<EntityName, string> = {
  user: 'users',
  group: 'groups',
  servicePrincipal: 'servicePrincipals',
  directoryRole: 'directoryRoles',
  orgContact: 'contacts',
  device: 'devices',
};

// Properties stored outside the main directory store: Graph returns them only on a single-object GET.
// Source: learn.microsoft.com users.md and groups-overview.md, "Properties stored outside the main data store".
const GET_ONLY: Partial<Record<EntityName, string[]>> = {
  user: [
    'aboutMe',
    'birthday',
    'hireDate',
    'interests',
    'mySite',
    'pastProjects',
    'preferredName',
    'responsibilities',
    'schools',
    'skills',
    'mailboxSettings',
    'signInActivity',
    'print',
    'deviceEnrollmentLimit',
  ],
  group: [
    'accessType',
    'allowExternalSenders',
    'autoSubscribeNewMembers',
    'hideFromAddressLists',
    'hideFromOutlookClients',
    'isFavorite',
    'isSubscribedByMail',
    'unseenConversationsCount',
    'unseenCount',
    'unseenMessagesCount',
    'isArchived',
  ],
};

// Server-set or managed through dedicated actions (assignLicense, Exchange, sync): rejected in a PATCH/POST body.
const READ_ONLY: Record<EntityName, string[]> = {
  user: [
    'id',
    'deletedDateTime',
    'createdDateTime',
    'assignedLicenses',
    'assignedPlans',
    'provisionedPlans',
    'licenseAssignmentStates',
    'imAddresses',
    'proxyAddresses',
    'creationType',
    'externalUserState',
    'externalUserStateChangeDateTime',
    'lastPasswordChangeDateTime',
    'legalAgeGroupClassification',
    'onPremisesDistinguishedName',
    'onPremisesDomainName',
    'onPremisesLastSyncDateTime',
    'onPremisesProvisioningErrors',
    'onPremisesSamAccountName',
    'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled',
    'onPremisesUserPrincipalName',
    'securityIdentifier',
    'serviceProvisioningErrors',
    'signInActivity',
    'signInSessionsValidFromDateTime',
    'identityParentId',
    'isManagementRestricted',
    'isResourceAccount',
  ],
  group: [
    'id',
    'deletedDateTime',
    'createdDateTime',
    'assignedLicenses',
    'expirationDateTime',
    'hasMembersWithLicenseErrors',
    'licenseProcessingState',
    'mail',
    'onPremisesDomainName',
    'onPremisesLastSyncDateTime',
    'onPremisesNetBiosName',
    'onPremisesProvisioningErrors',
    'onPremisesSamAccountName',
    'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled',
    'organizationId',
    'proxyAddresses',
    'renewedDateTime',
    'securityIdentifier',
    'serviceProvisioningErrors',
    'isManagementRestricted',
    'isArchived',
    'unseenConversationsCount',
    'unseenCount',
    'unseenMessagesCount',
    'isFavorite',
    'isSubscribedByMail',
  ],
  servicePrincipal: [
    'id',
    'deletedDateTime',
    'appDisplayName',
    'appId',
    'appOwnerOrganizationId',
    'applicationTemplateId',
    'createdByAppId',
    'disabledByMicrosoftStatus',
    'servicePrincipalType',
    'signInAudience',
    'verifiedPublisher',
  ],
  directoryRole: ['id', 'deletedDateTime', 'description', 'displayName', 'roleTemplateId'],
  orgContact: [
    'id',
    'deletedDateTime',
    'onPremisesLastSyncDateTime',
    'onPremisesProvisioningErrors',
    'onPremisesSyncEnabled',
    'proxyAddresses',
    'serviceProvisioningErrors',
  ],
  device: [
    'id',
    'deletedDateTime',
    'onPremisesLastSyncDateTime',
    'onPremisesSecurityIdentifier',
    'onPremisesSyncEnabled',
  ],
};

const REQUIRED_ON_CREATE: Partial<Record<EntityName, string[]>> = {
  user: ['accountEnabled', 'displayName', 'mailNickname', 'passwordProfile', 'userPrincipalName'],
  group: ['displayName', 'mailEnabled', 'mailNickname', 'securityEnabled'],
  servicePrincipal: ['appId'],
};

// `manager` is single-valued: Graph sends it in users/delta as `manager@delta`, an array like members@delta.
const LINK_NAVIGATIONS: Partial<Record<EntityName, string[]>> = {
  user: ['manager'],
  group: ['members', 'owners'],
  directoryRole: ['members'],
};

interface RawProperty {
  name: string;
  type: string;
  isCollection: boolean;
  nullable: boolean;
  kind: string;
  containsTarget?: boolean;
}

const complexTypes = new Set(Object.keys(catalogue.complexTypes));
const enumTypes = new Set(Object.keys(catalogue.enumTypes));

function buildEntity(name: EntityName): EntityInfo {
  const raw = (catalogue.entityTypes as Record<string, { properties: RawProperty[] }>)[
    `microsoft.graph.${name}`
  ];
  if (!raw) throw new Error(`entity ${name} missing from the property catalogue`);
  const getOnly = new Set(GET_ONLY[name] ?? []);
  const readOnly = new Set(READ_ONLY[name]);
  const properties = new Map<string, PropertyInfo>();
  for (const p of raw.properties) {
    // Contained navigations (calendar, drive, ...) are other services' resources, not directory links.
    if (p.kind === 'navigation' && p.containsTarget) continue;
    properties.set(p.name, {
      name: p.name,
      type: p.type,
      isCollection: p.isCollection,
      kind: p.kind === 'navigation' ? 'navigation' : 'structural',
      nullable: p.nullable,
      complex: complexTypes.has(p.type),
      isEnum: enumTypes.has(p.type),
      getOnly: getOnly.has(p.name),
      readOnly: readOnly.has(p.name) || p.kind === 'navigation',
    });
  }
  return {
    name,
    odataType: `#microsoft.graph.${name}`,
    collection: COLLECTIONS[name],
    properties,
    requiredOnCreate: REQUIRED_ON_CREATE[name] ?? [],
    linkNavigations: LINK_NAVIGATIONS[name] ?? [],
  };
}

const ENTITIES = new Map<EntityName, EntityInfo>(ENTITY_NAMES.map((n) => [n, buildEntity(n)]));

/** True for a directory extension property name: `extension_<appId without dashes>_<name>`. */
export function isDirectoryExtension(name: string): boolean {
  return /^extension_[0-9a-f]{32}_[A-Za-z0-9_]+$/i.test(name);
}

/** True when `name` is one of the entities we know. */
export function isEntityName(name: string): name is EntityName {
  return ENTITIES.has(name as EntityName);
}

/** The catalogue entry of an entity. */
export function entityInfo(entity: EntityName): EntityInfo {
  return ENTITIES.get(entity)!;
}

/**
 * A property of an entity by its exact name; directory extensions are synthesised as nullable strings
 * (their real type is known only to the tenant).
 */
export function findProperty(entity: EntityName, name: string): PropertyInfo | undefined {
  const found = entityInfo(entity).properties.get(name);
  if (found) return found;
  if (isDirectoryExtension(name) && entity !== 'directoryRole') {
    return {
      name,
      type: 'Edm.String',
      isCollection: false,
      kind: 'structural',
      nullable: true,
      complex: false,
      isEnum: false,
      getOnly: false,
      readOnly: false,
    };
  }
  return undefined;
}

/** The property `name` most likely meant (another case, a near miss), to suggest in errors. */
export function suggestProperty(entity: EntityName, name: string): string | undefined {
  return closest(name, entityInfo(entity).properties.keys());
}

/** `#microsoft.graph.user` or `microsoft.graph.user` → `user`; undefined for anything else. */
export function entityFromOdataType(odataType: string): EntityName | undefined {
  const name = odataType.replace(/^#?microsoft\.graph\./, '');
  return isEntityName(name) && name !== odataType ? name : undefined;
}

/** The entity served by a collection segment (`users` → `user`). */
export function entityFromCollection(collection: string): EntityName | undefined {
  for (const [name, c] of Object.entries(COLLECTIONS)) if (c === collection) return name as EntityName;
  return undefined;
}
