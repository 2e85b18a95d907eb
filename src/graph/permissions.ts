import type { EntityName } from './schema.js';

/**
 * Application permissions (app roles) that allow each operation, least privileged first
 * (graph-protocol.md §9.2; Microsoft Graph permissions reference).
 */
const DIRECTORY_READ = ['Directory.Read.All', 'Directory.ReadWrite.All'];

export const READ_ROLES: Record<EntityName, string[]> = {
  user: ['User.Read.All', 'User.ReadWrite.All', ...DIRECTORY_READ],
  group: [
    'GroupMember.Read.All',
    'Group.Read.All',
    'GroupMember.ReadWrite.All',
    'Group.ReadWrite.All',
    ...DIRECTORY_READ,
  ],
  servicePrincipal: ['Application.Read.All', 'Application.ReadWrite.All', ...DIRECTORY_READ],
  directoryRole: ['RoleManagement.Read.Directory', 'RoleManagement.ReadWrite.Directory', ...DIRECTORY_READ],
  orgContact: ['OrgContact.Read.All', ...DIRECTORY_READ],
  device: ['Device.Read.All', 'Device.ReadWrite.All', ...DIRECTORY_READ],
};

/** What `entra fulfill` needs per kind of write. */
export const WRITE_ROLES: { what: string; roles: string[] }[] = [
  { what: 'create users', roles: ['User.Create', 'User.ReadWrite.All', 'Directory.ReadWrite.All'] },
  { what: 'update users', roles: ['User.ReadWrite.All', 'Directory.ReadWrite.All'] },
  { what: 'delete users', roles: ['User.ReadWrite.All'] },
  {
    what: 'create and update groups',
    roles: ['Group.Create', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
  { what: 'delete groups', roles: ['Group.ReadWrite.All'] },
  {
    what: 'add and remove group members',
    roles: ['GroupMember.ReadWrite.All', 'Group.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
  { what: 'add and remove group owners', roles: ['Group.ReadWrite.All', 'Directory.ReadWrite.All'] },
  { what: 'add and remove directory role members', roles: ['RoleManagement.ReadWrite.Directory'] },
  { what: 'set and remove managers', roles: ['User.ReadWrite.All', 'Directory.ReadWrite.All'] },
  {
    what: 'assign and remove licences (assignedLicenses cells)',
    roles: ['LicenseAssignment.ReadWrite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
  {
    what: 'invite guests (invitedUserEmailAddress cells)',
    roles: ['User.Invite.All', 'User.ReadWrite.All', 'Directory.ReadWrite.All'],
  },
];

/** What reading the tenant's SKUs needs: `entra skus`, and skuPartNumbers in licence cells. */
export const SKU_READ_ROLES = [
  'LicenseAssignment.Read.All',
  'Organization.Read.All',
  'Organization.ReadWrite.All',
  'Directory.Read.All',
  'Directory.ReadWrite.All',
];

/** The roles claim of an access token (not verified: for diagnostics only). */
export function tokenRoles(accessToken: string): { roles: string[]; claims: Record<string, unknown> } {
  const part = accessToken.split('.')[1];
  if (!part) return { roles: [], claims: {} };
  try {
    const claims = JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
    return { roles: Array.isArray(claims.roles) ? claims.roles.map(String) : [], claims };
  } catch {
    return { roles: [], claims: {} };
  }
}
