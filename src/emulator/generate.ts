import { seededRandom } from './faults.js';
import { loadLicenses } from './licenses.js';
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
  const userObjects: StoredObject[] = new Array<StoredObject>(options.users);

  // Strings many users share are made once: a million users would otherwise hold a million copies.
  const firstAscii = FIRST.map(ascii);
  const lastAscii = LAST.map(ascii);
  const displayNames = FIRST.map((f) => LAST.map((l) => `${f} ${l}`));
  const offices = new Map<number, string>();
  const phones = new Map<number, string>();

  for (let i = 0; i < options.users; i++) {
    const f = Math.floor(random() * FIRST.length);
    const l = Math.floor(random() * LAST.length);
    const first = FIRST[f]!;
    const last = LAST[l]!;
    const nick = `${firstAscii[f]}.${lastAscii[l]}${i}`;
    const guest = random() < 0.03;
    const upn = guest ? `${nick.toLowerCase()}_fabrikam.com#EXT#@${domain}` : `${nick}@${domain}`;
    const accountEnabled = random() >= 0.05;
    // No phone: the key stays undefined (the directory keeps no empty collections), same object shape.
    let businessPhones: string[] | undefined;
    if (random() < 0.7) {
      let phone = phones.get(i % 10000);
      if (!phone) phones.set(i % 10000, (phone = `+1 425 555 ${String(i % 10000).padStart(4, '0')}`));
      businessPhones = [phone];
    }
    const city = pick(CITIES);
    const department = pick(DEPARTMENTS);
    const jobTitle = pick(TITLES);
    let officeLocation = offices.get(i % 39880);
    if (!officeLocation) offices.set(i % 39880, (officeLocation = `${1 + (i % 40)}/${1000 + (i % 997)}`));
    // Two literal shapes (members have an employeeId, guests do not): no deleted keys, no slow objects.
    const data: Record<string, unknown> = guest
      ? {
          accountEnabled,
          businessPhones,
          city,
          companyName: 'Fabrikam',
          createdDateTime: '2024-01-15T08:30:00Z',
          department,
          displayName: displayNames[f]![l]!,
          givenName: first,
          jobTitle,
          mail: `${nick.toLowerCase()}@fabrikam.com`,
          mailNickname: `${nick.toLowerCase()}_fabrikam.com#EXT#`,
          officeLocation,
          surname: last,
          usageLocation: 'US',
          userPrincipalName: upn,
          userType: 'Guest',
          creationType: 'Invitation',
          externalUserState: 'Accepted',
        }
      : {
          accountEnabled,
          businessPhones,
          city,
          companyName: 'Contoso',
          createdDateTime: '2024-01-15T08:30:00Z',
          department,
          displayName: displayNames[f]![l]!,
          employeeId: String(100000 + i),
          givenName: first,
          jobTitle,
          mail: upn,
          mailNickname: nick,
          officeLocation,
          surname: last,
          usageLocation: 'US',
          userPrincipalName: upn,
          userType: 'Member',
        };
    if (!guest && random() < 0.2) data[extension] = String(500000 + i);
    const id = guidFrom(random);
    userObjects[i] = store.create('user', data, { id, log: false, adopt: true, unique: true });
  }

  const groups: StoredObject[] = new Array<StoredObject>(options.groups);
  for (let g = 0; g < options.groups; g++) {
    const unified = random() < 0.3;
    const nick = `${pick(DEPARTMENTS).replace(/\s/g, '')}-team-${g}`;
    const id = guidFrom(random);
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
    groups[g] = store.create('group', data, { id, log: false, adopt: true, unique: true });
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
      // Without wrapping around, the stride never meets a user twice: no checks needed.
      const distinct = (size - 1) * step < users;
      for (let k = 0, at = start; k < size; k++, at = (at + step) % users)
        if (distinct) store.loadLink(group, 'members', userObjects[at]!);
        else store.addLink(group, 'members', userObjects[at]!.id, { log: false });
    }
    // Nested groups: security groups only (Microsoft 365 groups hold users only).
    if (!unified && g > large && random() < 0.05)
      store.loadLink(group, 'members', groups[Math.floor(random() * g)]!);
    if (users > 0 && random() < 0.9) {
      const first = userObjects[Math.floor(random() * users)]!;
      store.loadLink(group, 'owners', first);
      if (random() < 0.3) {
        const second = userObjects[Math.floor(random() * users)]!;
        if (second !== first) store.loadLink(group, 'owners', second);
      }
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
      store.addLink(id, 'members', userObjects[Math.floor(random() * users)]!.id, { log: false });
  }

  generateManagersAndLicenses(store, userObjects, options.seed ?? 1);

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

/**
 * Reporting lines and licences, from a generator of their own run after everything else: a seed
 * gives the same objects, ids and links as before these existed. Four users in five have a manager
 * among the first tenth of the users (a manager always comes before its reports: no cycles); members
 * get licences while seats last, sized to the tenant, leaving some seats free.
 */
function generateManagersAndLicenses(store: DirectoryStore, users: StoredObject[], seed: number): void {
  const random = seededRandom(seed ^ 0x6d616e61);
  const managers = Math.max(1, Math.floor(users.length / 10));
  for (let i = 1; i < users.length; i++)
    if (random() < 0.8)
      store.loadLink(users[i]!, 'manager', users[Math.floor(random() * Math.min(i, managers))]!);
  const [suite, premium] = store.skus;
  if (!suite || !premium) return;
  suite.enabled = Math.max(suite.enabled, Math.ceil(users.length * 0.7));
  premium.enabled = Math.max(premium.enabled, Math.ceil(users.length * 0.25));
  const stamp = '2024-03-01T09:00:00Z';
  for (const u of users) {
    if (u.data.userType !== 'Member') continue;
    const r = random();
    const skus = r < 0.15 ? [suite.skuId, premium.skuId] : r < 0.6 ? [suite.skuId] : [];
    if (skus.length) loadLicenses(store, u, skus, stamp);
  }
}

/** A name without its accents, for mail addresses: Zoë → Zoe. */
function ascii(name: string): string {
  return name.normalize('NFD').replace(/[\u0300-\u036f]/g, '');
}

/** A standard normal sample (Box-Muller). */
function gaussian(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}
