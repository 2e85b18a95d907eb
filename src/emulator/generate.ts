import { seededRandom } from './faults.js';
import type { DirectoryStore, StoredObject } from './store.js';

/**
 * Deterministic generated tenants: the same seed gives the same objects, ids and links. Sized for
 * benchmarks: a 1,000,000-user tenant generates in seconds, with a few very large groups (a tenth
 * of all users in the largest), a long tail of small ones, nested groups, owners, guests, disabled
 * accounts, directory roles and service principals.
 */
export interface GenerateOptions {
  users: number;
  groups: number;
  seed?: number;
  /** The connector app's client id: its service principal is created too. */
  clientId?: string;
  /** Average group memberships per user (default 3). */
  membershipsPerUser?: number;
}

const FIRST = [
  'Adele',
  'Alex',
  'Allan',
  'Bianca',
  'Brian',
  'Cameron',
  'Christie',
  'Debra',
  'Diego',
  'Emily',
  'Enrico',
  'Grady',
  'Henrietta',
  'Irvin',
  'Isaiah',
  'Johanna',
  'Joni',
  'Lee',
  'Lidia',
  'Lynne',
  'Megan',
  'Miriam',
  'Nestor',
  'Patti',
  'Pradeep',
  'Raul',
  'Sakura',
  'Tomás',
  'Zoë',
  'Nikolai',
];
const LAST = [
  'Vance',
  'Wilber',
  'Deyoung',
  'Pizzaro',
  'Johnson',
  'White',
  'Cline',
  'Berger',
  'Siciliani',
  'Braun',
  'Rossi',
  'Archie',
  'Cerveny',
  'Mehta',
  'Kim',
  'Sherman',
  'Holloway',
  'Gu',
  'Adams',
  'Robinson',
  'Bowen',
  'Caron',
  'Wilke',
  'Fernandez',
  'Gupta',
  'Razo',
  'Tanaka',
  'Kowalski',
  'Nguyen',
  'Okafor',
];
const DEPARTMENTS = [
  'Sales',
  'Marketing',
  'Engineering',
  'Finance',
  'Human Resources',
  'Legal',
  'Operations',
  'Research',
  'Support',
  'Retail',
];
const TITLES = [
  'Analyst',
  'Engineer',
  'Manager',
  'Director',
  'Designer',
  'Consultant',
  'Specialist',
  'Administrator',
  'Architect',
  'Coordinator',
];
const CITIES = [
  'Seattle',
  'Redmond',
  'Paris',
  'Berlin',
  'Tokyo',
  'Bengaluru',
  'São Paulo',
  'London',
  'Sydney',
  'Toronto',
];

/** Built-in directory role templates (Entra's well-known ids). */
export const ROLE_TEMPLATES: [string, string, string][] = [
  [
    '62e90394-69f5-4237-9190-012177145e10',
    'Global Administrator',
    'Can manage all aspects of Microsoft Entra ID and Microsoft services that use Microsoft Entra identities.',
  ],
  [
    'fe930be7-5e62-47db-91af-98c3a49a38b1',
    'User Administrator',
    'Can manage all aspects of users and groups, including resetting passwords for limited admins.',
  ],
  [
    'fdd7a751-b60b-444a-984c-02652fe8fa1c',
    'Groups Administrator',
    'Members of this role can create/manage groups, create/manage groups settings like naming and expiration policies, and view groups activity and audit reports.',
  ],
  [
    '729827e3-9c14-49f7-bb1b-9608f156bbb8',
    'Helpdesk Administrator',
    'Can reset passwords for non-administrators and Helpdesk Administrators.',
  ],
  [
    '9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3',
    'Application Administrator',
    'Can create and manage all aspects of app registrations and enterprise apps.',
  ],
];

/** A GUID from the generator: deterministic, formatted like Entra's object ids. */
export function guidFrom(random: () => number): string {
  const hex = () =>
    Math.floor(random() * 0x100000000)
      .toString(16)
      .padStart(8, '0');
  const a = hex();
  const b = hex();
  const c = hex();
  const d = hex();
  return `${a}-${b.slice(0, 4)}-4${b.slice(5, 8)}-${((parseInt(c[0]!, 16) & 3) | 8).toString(16)}${c.slice(1, 4)}-${c.slice(4)}${d}`;
}

/** Fills `store` with a generated tenant; nothing goes to the change log. */
export function generateTenant(store: DirectoryStore, options: GenerateOptions): void {
  const random = seededRandom(options.seed ?? 1);
  const pick = <T>(list: T[]): T => list[Math.floor(random() * list.length)]!;
  const domain = store.domains[0]!;
  const extension = `extension_${'b7d8e648520f41d3b9c0fdeb91768a0a'}_employeeNumber`;
  const userIds: string[] = new Array<string>(options.users);

  for (let i = 0; i < options.users; i++) {
    const first = pick(FIRST);
    const last = pick(LAST);
    const nick = `${first}.${last}${i}`.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
    const guest = random() < 0.03;
    const upn = guest ? `${nick.toLowerCase()}_fabrikam.com#EXT#@${domain}` : `${nick}@${domain}`;
    const data: Record<string, unknown> = {
      accountEnabled: random() >= 0.05,
      businessPhones: random() < 0.7 ? [`+1 425 555 ${String(i % 10000).padStart(4, '0')}`] : [],
      city: pick(CITIES),
      companyName: guest ? 'Fabrikam' : 'Contoso',
      createdDateTime: '2024-01-15T08:30:00Z',
      department: pick(DEPARTMENTS),
      displayName: `${first} ${last}`,
      employeeId: guest ? undefined : String(100000 + i),
      givenName: first,
      jobTitle: pick(TITLES),
      mail: guest ? `${nick.toLowerCase()}@fabrikam.com` : `${nick}@${domain}`,
      mailNickname: guest ? `${nick.toLowerCase()}_fabrikam.com#EXT#` : nick,
      officeLocation: `${1 + (i % 40)}/${1000 + (i % 997)}`,
      surname: last,
      usageLocation: 'US',
      userPrincipalName: upn,
      userType: guest ? 'Guest' : 'Member',
    };
    if (guest) {
      data.creationType = 'Invitation';
      data.externalUserState = 'Accepted';
    } else if (random() < 0.2) data[extension] = String(500000 + i);
    if (data.employeeId === undefined) delete data.employeeId;
    const id = guidFrom(random);
    userIds[i] = id;
    store.create('user', data, { id, log: false, adopt: true });
  }

  const groupIds: string[] = new Array<string>(options.groups);
  const groups: StoredObject[] = new Array<StoredObject>(options.groups);
  for (let g = 0; g < options.groups; g++) {
    const unified = random() < 0.3;
    const nick = `${pick(DEPARTMENTS).replace(/\s/g, '')}-team-${g}`;
    const id = guidFrom(random);
    groupIds[g] = id;
    const data: Record<string, unknown> = {
      createdDateTime: '2024-02-01T10:00:00Z',
      description: `Generated group ${g}`,
      displayName: `${pick(DEPARTMENTS)} Team ${g}`,
      groupTypes: unified ? ['Unified'] : [],
      mailEnabled: unified,
      mailNickname: nick,
      securityEnabled: !unified,
    };
    if (unified) {
      data.mail = `${nick}@${domain}`;
      data.visibility = 'Private';
    }
    groups[g] = store.create('group', data, { id, log: false, adopt: true });
  }

  // Memberships: a few very large groups, then a long tail (log-normal sizes) for the rest.
  const users = options.users;
  const perUser = options.membershipsPerUser ?? 3;
  const large = users >= 1000 ? Math.min(3, options.groups) : 0;
  let budget = Math.floor(users * perUser);
  for (let g = 0; g < options.groups; g++) {
    const group = groups[g]!;
    const unified = (group.data.groupTypes as string[]).length > 0;
    let size: number;
    if (g < large) size = Math.floor(users / (10 * 2 ** g));
    else {
      const mean = Math.max(1, budget / Math.max(1, options.groups - g));
      size = Math.min(
        Math.floor(users / 100) + 5,
        Math.floor(mean * Math.exp(gaussian(random) * 0.8 - 0.32)),
      );
    }
    budget -= size;
    if (users > 0) {
      const start = Math.floor(random() * users);
      const step = size > users / 2 ? 1 : 1 + Math.floor(random() * 7);
      for (let k = 0, at = start; k < size; k++, at = (at + step) % users)
        store.addLink(group, 'members', userIds[at]!, { log: false });
    }
    // Nested groups: security groups only (Microsoft 365 groups hold users only).
    if (!unified && g > large && random() < 0.05)
      store.addLink(group, 'members', groupIds[Math.floor(random() * g)]!, { log: false });
    if (users > 0 && random() < 0.9) {
      store.addLink(group, 'owners', userIds[Math.floor(random() * users)]!, { log: false });
      if (random() < 0.3)
        store.addLink(group, 'owners', userIds[Math.floor(random() * users)]!, { log: false });
    }
  }

  for (const [templateId, displayName, description] of ROLE_TEMPLATES) {
    const id = guidFrom(random);
    store.create(
      'directoryRole',
      { description, displayName, roleTemplateId: templateId },
      { id, log: false },
    );
    const count = Math.min(users, 1 + Math.floor(random() * 5));
    for (let k = 0; k < count; k++)
      store.addLink(id, 'members', userIds[Math.floor(random() * users)]!, { log: false });
  }

  const apps: [string, string][] = [
    ['00000003-0000-0000-c000-000000000000', 'Microsoft Graph'],
    ['00000002-0000-0ff1-ce00-000000000000', 'Office 365 Exchange Online'],
  ];
  if (options.clientId) apps.push([options.clientId, 'entra-connector']);
  const extra = Math.min(1000, Math.floor(users / 1000));
  for (let k = 0; k < extra; k++) apps.push([guidFrom(random), `Line-of-business app ${k}`]);
  for (const [appId, displayName] of apps)
    store.create(
      'servicePrincipal',
      {
        accountEnabled: true,
        appDisplayName: displayName,
        appId,
        displayName,
        servicePrincipalNames: [appId],
        servicePrincipalType: 'Application',
        signInAudience: 'AzureADMultipleOrgs',
        tags: [],
      },
      { id: guidFrom(random), log: false },
    );
}

/** A standard normal sample (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
