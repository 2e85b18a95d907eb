import { spawnSync } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EntityName } from '../../src/graph/schema.js';
import { acquireLock } from '../../src/sinks/run-lock.js';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { csvObjects, openHarness, runExport, withHarness, type Harness } from '../helpers/export-harness.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const TYPES: Record<string, EntityName> = {
  '#microsoft.graph.user': 'user',
  '#microsoft.graph.group': 'group',
  '#microsoft.graph.directoryRole': 'directoryRole',
  '#microsoft.graph.servicePrincipal': 'servicePrincipal',
};
/** Users with displayName and mail, groups with displayName, members and owners: short rows to compare. */
const SMALL_SELECT = { select: ['user=displayName,mail', 'group=displayName,members,owners'] };
const OBJECT_HEADER = 'Command,@odata.type,displayName,id,mail\n';
const MEMBERS_HEADER = 'Command,groupId,id\n';

const sorted = (text: string) => text.split('\n').filter(Boolean).sort().join('\n');
const summaryLine = (stderr: string) =>
  stderr.split('\n').find((l) => l.startsWith('entra export: Contoso:'));

/** Rows of complete rounds: each id inserted once; a repeat (a group split over pages) is an update after it. */
function assertComplete(rows: Record<string, string>[]): void {
  const inserted = new Set<string>();
  for (const row of rows)
    if (row.Command === 'insert') {
      assert.not.ok(inserted.has(row.id!), `${row.id} inserted twice`);
      inserted.add(row.id!);
    } else {
      assert.is(row.Command, 'update');
      assert.ok(inserted.has(row.id!), `update of ${row.id} before its insert`);
    }
}

/** Every file of the output and cookie folders, temp files included. */
async function ls(h: Harness): Promise<string[]> {
  return [...(await h.snapshot()).keys()].sort();
}

const Complete = suite('exportCommand (complete)');

Complete('exportCommand(args) on a generated tenant holds every object and every link of it, once', () =>
  withHarness(
    { generate: { users: 300, groups: 25, seed: 5 }, deltaLimits: { objects: 40, links: 60, scan: 400 } },
    async (h) => {
      const r = await h.run();
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stdout, '');
      const objects = csvObjects(await h.read('directoryobjects'));
      const inserted = new Map<string, string>();
      for (const o of objects) {
        if (o.Command === 'insert') {
          assert.not.ok(inserted.has(o.id!), `${o.id} inserted twice`);
          inserted.set(o.id!, TYPES[o['@odata.type']!]!);
        } else {
          // A group whose members fill several pages comes again: a repeat is an update of what was inserted.
          assert.is(o.Command, 'update');
          assert.ok(inserted.has(o.id!), `update of ${o.id} before its insert`);
        }
      }
      for (const entity of ['user', 'group', 'directoryRole', 'servicePrincipal'] as const) {
        const expected = h.emu.tenant
          .list(entity)
          .map((o) => o.id)
          .sort();
        const got = [...inserted]
          .filter(([, e]) => e === entity)
          .map(([id]) => id)
          .sort();
        assert.equal(got, expected, entity);
        assert.ok(expected.length > 0, entity);
      }
      for (const [entity, nav] of [
        ['group', 'members'],
        ['group', 'owners'],
        ['directoryRole', 'members'],
      ] as const) {
        const rows = csvObjects(await h.read(`${nav}_${entity}`));
        assert.ok(rows.every((row) => row.Command === 'insert'));
        const got = rows.map((row) => `${row[`${entity}Id`]} ${row.id}`).sort();
        const expected = h.emu.tenant
          .list(entity)
          .flatMap((o) => h.emu.tenant.links(o.id, nav).map((id) => `${o.id} ${id}`))
          .sort();
        assert.equal(got, expected, `${nav}_${entity}`);
      }
      assert.match(
        summaryLine(r.stderr) ?? '',
        /^entra export: Contoso: user complete, group complete, directoryRole complete, servicePrincipal complete; directoryobjects insert \d+, .* \d+ pages, 0 retries, [\d.]+ s$/,
      );
      assert.ok(
        r.stderr.includes(
          `entra export: wrote Contoso_directoryobjects.csv, Contoso_members_group.csv, Contoso_owners_group.csv, Contoso_members_directoryRole.csv in ${h.out}; cookies in ${h.cookies}\n`,
        ),
        r.stderr,
      );
      assert.equal(await ls(h), [
        'cookies/Contoso_cookie_directoryRole.bin',
        'cookies/Contoso_cookie_directoryRole.json',
        'cookies/Contoso_cookie_group.bin',
        'cookies/Contoso_cookie_group.json',
        'cookies/Contoso_cookie_servicePrincipal.bin',
        'cookies/Contoso_cookie_servicePrincipal.json',
        'cookies/Contoso_cookie_user.bin',
        'cookies/Contoso_cookie_user.json',
        'out/Contoso_directoryobjects.csv',
        'out/Contoso_members_directoryRole.csv',
        'out/Contoso_members_group.csv',
        'out/Contoso_owners_group.csv',
      ]);
      const cookie = await readFile(join(h.cookies, 'Contoso_cookie_user.bin'), 'utf8');
      assert.match(cookie, /^https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\/delta\?\$deltatoken=[^\s]+$/);
    },
  ),
);

Complete('exportCommand({ demo }) writes the sample tenant as connection Demo, exactly, and no cookies', () =>
  withHarness({}, async (h) => {
    const r = await runExport({ demo: true, output: h.out, cookies: h.cookies });
    assert.is(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /^entra: --demo: emulated sample tenant a7f3c9e2-5b1d-4e8a-9c6f-2d4b8e1a3f57 on https:\/\/127\.0\.0\.1:\d+\n/,
    );
    assert.ok(r.stderr.includes(`in ${h.out}\n`), r.stderr);
    for (const table of ['directoryobjects', 'members_group', 'owners_group', 'members_directoryRole']) {
      const text = await readFile(join(h.out, `Demo_${table}.csv`), 'utf8');
      const expected = await readFile(
        new URL(`../fixtures/expected/demo/Demo_${table}.csv`, import.meta.url),
        'utf8',
      );
      // Entities are read in parallel: rows of different entities interleave as pages arrive.
      assert.is(text.split('\n')[0], expected.split('\n')[0], `${table} header`);
      assert.ok(text.endsWith('\n') && !text.startsWith('\uFEFF'));
      assert.fixture(sorted(text), sorted(expected));
    }
    assert.not.ok(
      (await ls(h)).some((f) => f.startsWith('cookies/')),
      'no cookie written',
    );
  }),
);

Complete(
  "exportCommand({ demo }) in a real connection's folders leaves its files and cookies byte-identical",
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      const before = await h.snapshot();
      for (let i = 0; i < 2; i++) {
        const r = await runExport({ demo: true, output: h.out, cookies: h.cookies });
        assert.is(r.code, 0, r.stderr);
        assert.match(r.stderr, /^entra export: Demo: user complete, group complete/m);
      }
      const after = await h.snapshot();
      for (const [name, text] of before) assert.is(after.get(name), text, name);
      assert.equal(
        [...after.keys()].filter((k) => !before.has(k)).sort(),
        [
          'Demo_directoryobjects.csv',
          'Demo_members_directoryRole.csv',
          'Demo_members_group.csv',
          'Demo_owners_group.csv',
        ].map((f) => `out/${f}`),
      );
    }),
);

Complete.run();

// ---

/**
 * One tenant, one complete round, then one change and one incremental round per test, in order: each
 * round must give exactly the rows of its change.
 */
const Incremental = suite<{ h: Harness & { close(): Promise<void> } }>('exportCommand (incremental)');

interface Step {
  name: string;
  change: (h: Harness) => void;
  directoryobjects?: (h: Harness) => string[];
  members_group?: string[];
  owners_group?: string[];
}

const STEPS: Step[] = [
  {
    name: 'a created user gives its update row',
    change: (h) => void h.emu.tenant.createUser({ displayName: 'Nina Novak', mail: 'nina@contoso.com' }),
    directoryobjects: (h) => {
      const id = h.emu.tenant.list('user').find((u) => u.data.displayName === 'Nina Novak')!.id;
      return [`update,#microsoft.graph.user,Nina Novak,${id},nina@contoso.com`];
    },
  },
  {
    name: 'an updated attribute gives the whole row',
    change: (h) => void h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' }),
    directoryobjects: () => [`update,#microsoft.graph.user,Adele Vance,${ADELE},adele@contoso.com`],
  },
  {
    name: 'a soft delete gives a delete row with the id only',
    change: (h) => h.emu.tenant.delete(ADELE),
    directoryobjects: () => [`delete,#microsoft.graph.user,,${ADELE},`],
  },
  {
    name: 'a restore gives the whole row again',
    change: (h) => void h.emu.tenant.restore(ADELE),
    directoryobjects: () => [`update,#microsoft.graph.user,Adele Vance,${ADELE},adele@contoso.com`],
  },
  {
    name: 'a hard delete gives a delete row, and the groups it leaves their link deletes',
    change: (h) => h.emu.tenant.purge(ADELE),
    directoryobjects: () => [
      `delete,#microsoft.graph.user,,${ADELE},`,
      `update,#microsoft.graph.group,Sales and Marketing,${SALES},`,
      `update,#microsoft.graph.group,All Staff,${ALL_STAFF},`,
    ],
    members_group: [`delete,${SALES},${ADELE}`, `delete,${ALL_STAFF},${ADELE}`],
  },
  {
    name: 'an added member gives the group and a link insert',
    change: (h) => void h.emu.tenant.addMember(ENGINEERING, ALEX),
    directoryobjects: () => [`update,#microsoft.graph.group,Engineering,${ENGINEERING},`],
    members_group: [`insert,${ENGINEERING},${ALEX}`],
  },
  {
    name: 'a removed member gives the group and a link delete',
    change: (h) => void h.emu.tenant.removeMember(ENGINEERING, LEE),
    directoryobjects: () => [`update,#microsoft.graph.group,Engineering,${ENGINEERING},`],
    members_group: [`delete,${ENGINEERING},${LEE}`],
  },
  {
    name: 'an added owner gives the group and an owners link insert',
    change: (h) => void h.emu.tenant.addOwner(ENGINEERING, ALEX),
    directoryobjects: () => [`update,#microsoft.graph.group,Engineering,${ENGINEERING},`],
    owners_group: [`insert,${ENGINEERING},${ALEX}`],
  },
  {
    name: 'a removed owner gives the group and an owners link delete',
    change: (h) => void h.emu.tenant.removeOwner(ENGINEERING, LEE),
    directoryobjects: () => [`update,#microsoft.graph.group,Engineering,${ENGINEERING},`],
    owners_group: [`delete,${ENGINEERING},${LEE}`],
  },
  {
    name: 'a change to an unselected attribute gives header-only files',
    change: (h) => void h.emu.tenant.update(ALEX, { jobTitle: 'Chief Marketing Officer' }),
  },
  {
    name: 'no change gives header-only files',
    change: () => {},
  },
];

Incremental.before(async (context) => {
  context.h = await openHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS });
  const first = await context.h.run(SMALL_SELECT);
  assert.is(first.code, 0, first.stderr);
});

Incremental.after(async (context) => {
  await context.h?.close();
});

for (const step of STEPS)
  Incremental(`exportCommand(args) after a round: ${step.name}`, async ({ h }) => {
    const before = await h.snapshot();
    step.change(h);
    const r = await h.run(SMALL_SELECT);
    assert.is(r.code, 0, r.stderr);
    assert.not.match(r.stderr, /warning/);
    assert.match(summaryLine(r.stderr) ?? '', /^entra export: Contoso: user incremental, group incremental;/);
    const expect = (header: string, rows: string[]) => header + rows.map((l) => `${l}\n`).join('');
    assert.fixture(
      sorted(await h.read('directoryobjects')),
      sorted(expect(OBJECT_HEADER, step.directoryobjects?.(h) ?? [])),
    );
    assert.fixture(
      sorted(await h.read('members_group')),
      sorted(expect(MEMBERS_HEADER, step.members_group ?? [])),
    );
    assert.fixture(
      sorted(await h.read('owners_group')),
      sorted(expect(MEMBERS_HEADER, step.owners_group ?? [])),
    );
    if (!step.directoryobjects) assert.is(await h.read('directoryobjects'), OBJECT_HEADER);
    // Each round replaces the cookies with the deltaLinks it ended with.
    const after = await h.snapshot();
    for (const name of ['cookies/Contoso_cookie_user.bin', 'cookies/Contoso_cookie_group.bin']) {
      assert.ok(after.get(name));
      assert.is.not(after.get(name), before.get(name), name);
    }
  });

Incremental('exportCommand(args) runs complete rounds again with --ignore-cookies', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    const complete = await h.read('directoryobjects');
    const r = await h.run({ ...SMALL_SELECT, ignoreCookies: true });
    assert.match(summaryLine(r.stderr) ?? '', /user complete, group complete/);
    assert.is(await h.read('directoryobjects'), complete);
  }),
);

Incremental.run();

// ---

const Fallback = suite('exportCommand (unusable cookies)');

/** One complete round, something that spoils a cookie, then a round that must fall back for that entity only. */
async function fallsBack(
  spoil: (h: Harness) => Promise<void> | void,
  warning: RegExp,
  options: { second?: Record<string, unknown> } = {},
) {
  await withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    const complete = csvObjects(await h.read('directoryobjects'));
    await spoil(h);
    const r = await h.run(options.second ?? SMALL_SELECT);
    assert.is(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('entra: warning:'));
    assert.is(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, warning);
    assert.match(summaryLine(r.stderr) ?? '', /^entra export: Contoso: user complete, group incremental;/);
    const users = csvObjects(await h.read('directoryobjects'));
    assert.ok(users.every((u) => u.Command === 'insert' && u['@odata.type'] === '#microsoft.graph.user'));
    assertComplete(users);
    assert.is(users.length, complete.filter((u) => u['@odata.type'] === '#microsoft.graph.user').length);
    // The cookie is good again: the next round is incremental.
    const next = await h.run(options.second ?? SMALL_SELECT);
    assert.match(summaryLine(next.stderr) ?? '', /user incremental, group incremental/);
  });
}

Fallback('exportCommand(args) falls back to complete when Graph says the cookie expired', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    // The emulator's clock only: the sidecars still look young, so Graph is the one to refuse.
    h.emu.clock.advance(8 * 24 * 3600_000);
    const r = await h.run(SMALL_SELECT);
    assert.is(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('entra: warning:'));
    assert.equal(warnings, [
      'entra: warning: user: Graph no longer knows the delta token (400 syncStateNotFound); running a complete round',
      'entra: warning: group: Graph no longer knows the delta token (400 syncStateNotFound); running a complete round',
    ]);
    assert.match(summaryLine(r.stderr) ?? '', /user complete, group complete/);
    assertComplete(csvObjects(await h.read('directoryobjects')));
  }),
);

Fallback('exportCommand(args) does not replay a cookie older than 7 days', () =>
  fallsBack(async (h) => {
    const sidecar = join(h.cookies, 'Contoso_cookie_user.json');
    const meta = JSON.parse(await readFile(sidecar, 'utf8')) as { createdAt: string };
    meta.createdAt = new Date(Date.now() - 8 * 24 * 3600_000).toISOString();
    await writeFile(sidecar, JSON.stringify(meta));
  }, /^entra: warning: user: cookie not used \(expired: older than 7 days \(made .*\)\); running a complete round$/),
);

Fallback('exportCommand(args) does not replay a cookie made with another $select', () =>
  fallsBack(
    () => {},
    /^entra: warning: user: cookie not used \(made for another \$select \(displayName,id,mail → displayName,id\)\); running a complete round$/,
    {
      second: { select: ['user=displayName', 'group=displayName,members,owners'], advanceCookies: true },
    },
  ),
);

Fallback('exportCommand(args) falls back to complete on a synchronization reset (410 Gone)', async () =>
  withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    h.emu.tenant.resetSync();
    const r = await h.run(SMALL_SELECT);
    assert.is(r.code, 0, r.stderr);
    const warnings = r.stderr.split('\n').filter((l) => l.startsWith('entra: warning:'));
    assert.equal(warnings, [
      'entra: warning: user: Graph reset synchronization (410 Gone); running a complete round',
      'entra: warning: group: Graph reset synchronization (410 Gone); running a complete round',
    ]);
    assert.match(summaryLine(r.stderr) ?? '', /user complete, group complete/);
    assertComplete(csvObjects(await h.read('directoryobjects')));
  }),
);

Fallback.run();

// ---

const Faults = suite('exportCommand (faults)');

Faults(
  'exportCommand(args) gives the same rows under 429 storms, 5xx, resets, truncated bodies and token trouble',
  () =>
    withHarness(
      { generate: { users: 200, groups: 12, seed: 9 }, deltaLimits: { objects: 25, links: 40, scan: 300 } },
      async (h) => {
        const clean = await h.run({ ignoreCookies: true });
        assert.is(clean.code, 0, clean.stderr);
        const tables = ['directoryobjects', 'members_group', 'owners_group', 'members_directoryRole'];
        const expected = await Promise.all(tables.map((t) => h.read(t)));
        const before = h.emu.requests.length;

        h.emu.faults.add(
          // A token-endpoint outage at the start (the provider retries it)...
          { kind: 'status', status: 503, scope: 'token', count: 3 },
          // ...a 429 storm on one entity, and the usual 5xx, resets and cut bodies on delta pages.
          { kind: 'status', status: 429, retryAfter: 0, count: 4, match: '/groups/delta' },
          { kind: 'status', status: 429, retryAfter: 0, rate: 0.15, match: '/delta' },
          { kind: 'status', status: 503, retryAfter: 0, rate: 0.08, match: '/delta' },
          { kind: 'status', status: 504, count: 1, match: '/users/delta?$skiptoken' },
          { kind: 'reset', rate: 0.05, match: '/delta' },
          { kind: 'reset', count: 1, match: '/directoryRoles/delta' },
          { kind: 'truncate', rate: 0.05, match: '/delta' },
          { kind: 'truncate', count: 1, match: '/servicePrincipals/delta' },
        );
        // Mid-run, the access token expires (the emulator's clock jumps two hours), and the token
        // endpoint fails once more when the connector asks for a new one.
        let expired = false;
        const timer = setInterval(() => {
          if (expired || h.emu.requests.length - before < 12) return;
          expired = true;
          h.emu.clock.advance(2 * 3600_000);
          h.emu.faults.add({ kind: 'status', status: 503, scope: 'token', count: 1 });
        }, 2);
        let r;
        try {
          r = await h.run({ ignoreCookies: true });
        } finally {
          clearInterval(timer);
        }
        assert.is(r.code, 0, r.stderr);
        assert.ok(expired, 'the token expired mid-run');
        for (let i = 0; i < tables.length; i++)
          assert.fixture(sorted(await h.read(tables[i]!)), sorted(expected[i]!), tables[i]);
        const seen = h.emu.requests.slice(before);
        const faults = new Set(seen.map((q) => q.fault ?? (q.status === 401 ? '401' : '')).filter(Boolean));
        for (const kind of ['429', '503', '504', 'reset', 'truncate', '401'])
          assert.ok(faults.has(kind), `fault ${kind} happened: ${[...faults].join(', ')}`);
        const tokenRequests = seen.filter((q) => q.path.includes('/oauth2/v2.0/token'));
        assert.ok(tokenRequests.length >= 6, `token requests: ${tokenRequests.length}`);
        assert.match(summaryLine(r.stderr) ?? '', /, [1-9]\d* retries, /);
      },
    ),
);

Faults(
  'exportCommand(args) fails with exit 1 when Graph keeps failing, leaving outputs and cookies as they were',
  async () =>
    withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      const before = await h.snapshot();
      h.emu.tenant.createUser({ displayName: 'Kept For Later' });
      h.emu.faults.add({ kind: 'status', status: 403, rate: 1, match: '/groups/delta' });
      const r = await h.run(SMALL_SELECT);
      assert.is(r.code, 1);
      assert.match(r.stderr, /^entra: ERR_GRAPH_HTTP: Graph answered 403 to the group delta query/m);
      assert.match(r.stderr, /^ {2}request-id: [0-9a-f-]{36}$/m);
      assert.equal(await h.snapshot(), before);
      h.emu.faults.clear();
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      assert.match(await h.read('directoryobjects'), /^update,#microsoft\.graph\.user,Kept For Later,/m);
    }),
);

Faults('exportCommand(args) with a refused secret fails with ERR_AUTH before any file is written', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const r = await runExport(
      { settings: h.settingsFile, ca: h.caFile, output: h.out, cookies: h.cookies },
      { Connections__Contoso__ApplicationKey: 'wrong-secret' },
    );
    assert.is(r.code, 1);
    assert.match(r.stderr, /^entra: ERR_AUTH: cannot get an access token for connection "Contoso"/);
    assert.not.match(r.stderr, /wrong-secret/);
    assert.equal(await ls(h), []);
    assert.is(await readdir(h.dir).then((names) => names.sort().join(',')), 'appsettings.agent.json,ca.pem');
  }),
);

Faults.run();

// ---

const BadInput = suite('exportCommand (bad input)');

/** Each case: the args (relative to the harness folder) and the message; every one exits 2 and writes nothing. */
const BAD: [string, (h: Harness) => Record<string, unknown>, RegExp][] = [
  [
    'a missing settings file',
    (h) => ({ settings: join(h.dir, 'nope.json') }),
    /^entra: ERR_SETTINGS: settings file not found: .*nope\.json \(start from the sample \/.*\/samples\/appsettings\.agent\.json with your "Connections" values/,
  ],
  [
    'a malformed settings file',
    (h) => ({ settings: join(h.dir, 'bad.json') }),
    /^entra: ERR_SETTINGS: .*bad\.json:3:3: malformed JSON: unexpected content after the JSON value$/m,
  ],
  [
    'settings without a credential',
    (h) => ({ settings: join(h.dir, 'nokey.json') }),
    /^entra: ERR_SETTINGS: connection 'Contoso': no credential: set ApplicationKey/,
  ],
  [
    'a connection name with an underscore',
    (h) => ({ settings: join(h.dir, 'badname.json') }),
    /^entra: ERR_SETTINGS: connection name 'Con_toso' in .* must not contain/,
  ],
  [
    'an unknown --connection',
    () => ({ connection: 'Fabrikam' }),
    /^entra: ERR_SETTINGS: no connection 'Fabrikam' in .* \(available: Contoso\)/,
  ],
  [
    'two connections and no --connection',
    (h) => ({ settings: join(h.dir, 'two.json') }),
    /^entra: ERR_SETTINGS: 2 connections in .*: choose one with --connection/,
  ],
  [
    'an unknown attribute',
    () => ({ select: ['user=displayName,mial'] }),
    /^entra: ERR_MAPPING: --select: unknown attribute 'mial' for user \(did you mean 'mail'\?\)$/m,
  ],
  [
    'a Get-only attribute',
    () => ({ select: ['user=birthday'] }),
    /^entra: ERR_MAPPING: --select: attribute 'birthday' of user is returned by Graph only on a single-object GET/,
  ],
  [
    'an unknown entity',
    () => ({ entities: ['user,device'] }),
    /^entra: ERR_MAPPING: --entities: unknown entity 'device'/,
  ],
  [
    'a missing mapping file',
    (h) => ({ mapping: join(h.dir, 'mapping.xml') }),
    /^entra: ERR_MAPPING: cannot read mapping file .*mapping\.xml: not found/,
  ],
  [
    'a malformed mapping file',
    (h) => ({ mapping: join(h.dir, 'bad.xml') }),
    /^entra: ERR_MAPPING: .*bad\.xml:\d+:\d+: malformed XML/,
  ],
  [
    '--format ndjson to a folder',
    () => ({ format: 'ndjson' }),
    /^entra: ERR_USAGE: --format ndjson writes to stdout: add --output -/,
  ],
  [
    '--table without --output -',
    () => ({ table: 'members_group' }),
    /^entra: ERR_USAGE: --table picks the one table written to stdout/,
  ],
  [
    'a --table the mapping does not produce',
    () => ({ output: '-', table: 'owners_directoryRole' }),
    /^entra: ERR_USAGE: --table owners_directoryRole is not produced by this mapping; tables: directoryobjects, members_group/,
  ],
  [
    '--output naming an existing file',
    (h) => ({ output: join(h.dir, 'bad.json') }),
    /^entra: ERR_USAGE: --output .*bad\.json: not a folder \(it is a file\)$/m,
  ],
  [
    '--cookies naming a file',
    (h) => ({ cookies: join(h.dir, 'bad.json') }),
    /^entra: ERR_USAGE: --cookies .*bad\.json: not a folder \(it is a file\)$/m,
  ],
  [
    '--output in /proc (where mkdir -p spins)',
    () => ({ output: '/proc/xyz' }),
    /^entra: ERR_USAGE: --output \/proc\/xyz: cannot create this folder \(no such file or folder, ENOENT\)$/m,
  ],
  [
    'a numeric ApplicationKey (never sent)',
    (h) => ({ settings: join(h.dir, 'numkey.json') }),
    /^entra: ERR_SETTINGS: .*numkey\.json: Connections:Contoso:ApplicationKey is a number: a secret must be a JSON string/,
  ],
  [
    'settings nested 100,000 deep',
    (h) => ({ settings: join(h.dir, 'deep.json') }),
    /^entra: ERR_SETTINGS: .*deep\.json:1:\d+: JSON nested deeper than 64 levels$/m,
  ],
  [
    "a connection named '..'",
    (h) => ({ settings: join(h.dir, 'dots.json') }),
    /^entra: ERR_SETTINGS: connection name '\.\.' in .* is not usable in file names/,
  ],
  [
    'an XML mapping with an external entity',
    (h) => ({ mapping: join(h.dir, 'xxe.xml') }),
    /^entra: ERR_MAPPING: .*xxe\.xml:2:1: a DOCTYPE \(which may define entities\) is not allowed in a mapping file: remove it$/m,
  ],
  [
    'a missing --ca file',
    (h) => ({ ca: join(h.dir, 'none.pem') }),
    /^entra: ERR_USAGE: --ca: cannot read .*none\.pem: ENOENT/,
  ],
  [
    'a --ca file that is not a certificate',
    (h) => ({ ca: join(h.dir, 'bad.json') }),
    /^entra: ERR_USAGE: --ca: .*bad\.json is not a PEM certificate/,
  ],
];

for (const [name, args, message] of BAD)
  BadInput(`exportCommand(args) with ${name} exits 2 with one clear line, and writes nothing`, async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const connection = (emu: Harness['emu'], name = 'Contoso', extra: Record<string, string> = {}) => ({
        [name]: { ...(emu.settings('X') as { Connections: { X: object } }).Connections.X, ...extra },
      });
      await writeFile(join(h.dir, 'bad.json'), '{\n  "Connections": {\n}}}');
      await writeFile(
        join(h.dir, 'nokey.json'),
        JSON.stringify({ Connections: connection(h.emu, 'Contoso', { ApplicationKey: '' }) }),
        { mode: 0o600 },
      );
      await writeFile(
        join(h.dir, 'badname.json'),
        JSON.stringify({ Connections: connection(h.emu, 'Con_toso') }),
        { mode: 0o600 },
      );
      await writeFile(
        join(h.dir, 'two.json'),
        JSON.stringify({ Connections: { ...connection(h.emu, 'A'), ...connection(h.emu, 'B') } }),
        { mode: 0o600 },
      );
      const numeric = connection(h.emu) as { Contoso: Record<string, unknown> };
      numeric.Contoso.ApplicationKey = 12345;
      await writeFile(join(h.dir, 'numkey.json'), JSON.stringify({ Connections: numeric }), { mode: 0o600 });
      await writeFile(join(h.dir, 'deep.json'), '['.repeat(100_000) + ']'.repeat(100_000));
      await writeFile(join(h.dir, 'dots.json'), JSON.stringify({ Connections: connection(h.emu, '..') }), {
        mode: 0o600,
      });
      await writeFile(
        join(h.dir, 'xxe.xml'),
        '<?xml version="1.0"?>\n<!DOCTYPE m [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>\n<m>&xxe;</m>\n',
      );
      await writeFile(
        join(h.dir, 'bad.xml'),
        '<EntityTypeMapping Identifier="x"><Property></EntityTypeMapping>',
      );
      const before = h.emu.requests.length;
      const r = await h.run({ entities: ['user,group'], ...args(h) });
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, message);
      assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.is(r.stdout, '');
      assert.equal(await ls(h), []);
      assert.is(h.emu.requests.length, before, 'no request was sent');
    }),
  );

BadInput.run();

// ---

const Stdout = suite('exportCommand (--output -)');

Stdout(
  'exportCommand({ output: "-", format: "ndjson", advanceCookies }) writes every row of every table, typed, and the cookies',
  async () =>
    withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
      const select = {
        select: [
          'user=accountEnabled,businessPhones,displayName,onPremisesExtensionAttributes',
          'group=displayName,groupTypes,securityEnabled,members,owners',
        ],
      };
      const files = await h.run({ ...select, cookies: join(h.dir, 'other-cookies') });
      const r = await h.run({ ...select, output: '-', format: 'ndjson', advanceCookies: true });
      assert.is(r.code, 0, r.stderr);
      const lines = r.stdout
        .trimEnd()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(r.stdout.startsWith('{"table":"'));
      for (const table of ['members_group', 'owners_group']) {
        const rows = lines.filter((l) => l.table === table).map(({ table: _, ...cells }) => cells);
        assert.equal(
          rows.map((row) => JSON.stringify(row)).sort(),
          csvObjects(await h.read(table))
            .map((row) => JSON.stringify(row))
            .sort(),
          table,
        );
      }
      const own: Record<string, string[]> = {
        '#microsoft.graph.user': [
          'accountEnabled',
          'businessPhones',
          'displayName',
          'id',
          'onPremisesExtensionAttributes',
        ],
        '#microsoft.graph.group': ['displayName', 'groupTypes', 'id', 'securityEnabled'],
      };
      const csv = new Map(csvObjects(await h.read('directoryobjects')).map((c) => [c.id, c]));
      const objects = lines.filter((l) => l.table === 'directoryobjects');
      assert.is(objects.length, csv.size);
      for (const { table: _, Command, '@odata.type': type, ...values } of objects) {
        const cells = csv.get(values.id as string)!;
        assert.is(Command, cells.Command);
        assert.equal(Object.keys(values), own[type as string], 'only the entity’s own columns');
        for (const [k, v] of Object.entries(values)) {
          assert.is.not(v, '', `${k}: null, not ""`);
          // The CSV cell is the same value encoded (a collection Graph left out is [] here, '' there).
          assert.is(
            v === null ? '' : typeof v === 'string' ? v : JSON.stringify(v),
            cells[k] || (Array.isArray(v) ? '[]' : ''),
            k,
          );
        }
        if (type === '#microsoft.graph.user') {
          assert.type(values.accountEnabled, 'boolean');
          assert.ok(Array.isArray(values.businessPhones));
          assert.ok(
            values.onPremisesExtensionAttributes === null ||
              typeof values.onPremisesExtensionAttributes === 'object',
          );
        } else {
          assert.type(values.securityEnabled, 'boolean');
          assert.ok(Array.isArray(values.groupTypes));
        }
      }
      assert.is(
        objects.filter((o) => o.accountEnabled === false).length,
        h.emu.tenant.list('user').filter((u) => u.data.accountEnabled === false).length,
        "jq 'select(.accountEnabled == false)' finds the disabled users",
      );
      assert.is(files.code, 0);
      assert.ok((await ls(h)).includes('cookies/Contoso_cookie_user.bin'));
    }),
);

Stdout(
  'exportCommand({ output: "-", table }) writes one table and keeps the cookies where they were',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run({ ...SMALL_SELECT, ignoreCookies: true })).code, 0);
      const before = await h.snapshot();
      h.emu.tenant.addMember(ENGINEERING, ALEX);
      const r = await h.run({ ...SMALL_SELECT, output: '-', table: 'members_group', advanceCookies: true });
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stdout, `${MEMBERS_HEADER}insert,${ENGINEERING},${ALEX}\n`);
      assert.match(
        r.stderr,
        /^entra: warning: cookies not advanced: 1 rows of other tables than members_group were not written \(use --format ndjson or --output DIR to keep them\)$/m,
      );
      assert.equal(await h.snapshot(), before);
    }),
);

Stdout('exportCommand({ output: "-" }) as CSV says how many rows of the other tables it left out', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const r = await h.run({ ...SMALL_SELECT, output: '-' });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Command,/);
    assert.match(
      r.stderr,
      /^entra export: \d+ rows of other tables than directoryobjects not written \(--table NAME for another, --format ndjson for all\)$/m,
    );
  }),
);

Stdout(
  'exportCommand({ output: "-", advanceCookies }) advances the cookies when the one table is all there is',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const r = await h.run({ select: ['user=displayName,mail'], output: '-', advanceCookies: true });
      assert.is(r.code, 0, r.stderr);
      assert.is(r.stdout.split('\n')[0], 'Command,@odata.type,displayName,id,mail');
      assert.is(r.stdout.trimEnd().split('\n').length, 1 + h.emu.tenant.list('user').length);
      assert.equal(await ls(h), ['cookies/Contoso_cookie_user.bin', 'cookies/Contoso_cookie_user.json']);
    }),
);

Stdout.run();

// ---

const AdHoc = suite('exportCommand (ad-hoc runs)');

AdHoc('exportCommand({ output: "-" }) shows a change that still reaches the next scheduled run', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    const before = await h.snapshot();
    h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
    const pipe = await h.run({ ...SMALL_SELECT, output: '-', format: 'ndjson' });
    assert.is(pipe.code, 0, pipe.stderr);
    assert.match(pipe.stdout, /"mail":"adele@contoso\.com"/);
    assert.match(pipe.stderr, /^entra export: Contoso: user incremental, group incremental;/m);
    assert.match(
      pipe.stderr,
      /^entra export: cookies not advanced: a run to stdout reads cookies but moves none/m,
    );
    assert.equal(await h.snapshot(), before);
    const scheduled = await h.run(SMALL_SELECT);
    assert.is(scheduled.code, 0, scheduled.stderr);
    assert.match(
      await h.read('directoryobjects'),
      /^update,#microsoft\.graph\.user,Adele Vance,[^,]+,adele@contoso\.com$/m,
    );
  }),
);

AdHoc(
  'exportCommand({ select }) narrower than the cookies refuses the scheduled folder, and writes another one without moving cookies',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      const before = await h.snapshot();
      h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
      const narrow = { select: ['user=displayName'] };
      const refused = await h.run(narrow);
      assert.is(refused.code, 2, refused.stderr);
      assert.match(
        refused.stderr,
        /^entra: ERR_USAGE: this run's entities or --select \(user=displayName,id\) differ from the connection's scheduled run \(group=displayName,id,members,owners user=displayName,id,mail\): it would replace that run's files in .* pass --advance-cookies/,
      );
      assert.equal(await h.snapshot(), before);
      const elsewhere = join(h.dir, 'adhoc');
      const r = await h.run({ ...narrow, output: elsewhere });
      assert.is(r.code, 0, r.stderr);
      assert.match(r.stderr, /^entra export: cookies not advanced: this run's entities or --select differ/m);
      assert.match(await readFile(join(elsewhere, 'Contoso_directoryobjects.csv'), 'utf8'), /^insert,/m);
      assert.equal(await h.snapshot(), before);
      const scheduled = await h.run(SMALL_SELECT);
      assert.match(summaryLine(scheduled.stderr) ?? '', /user incremental, group incremental/);
      assert.match(await h.read('directoryobjects'), /adele@contoso\.com/);
    }),
);

AdHoc(
  'exportCommand({ output }) into another folder with the same mapping moves no cookies: the change still reaches the scheduled folder',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      const before = await h.snapshot();
      h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
      const elsewhere = join(h.dir, 'copy');
      const r = await h.run({ ...SMALL_SELECT, output: elsewhere });
      assert.is(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^entra: warning: entra export: cookies not advanced: the connection's scheduled run writes into ${h.out}, this one into ${elsewhere}: .*--advance-cookies`,
          'm',
        ),
      );
      assert.match(
        await readFile(join(elsewhere, 'Contoso_directoryobjects.csv'), 'utf8'),
        /adele@contoso\.com/,
      );
      assert.equal(await h.snapshot(), before, 'the scheduled files and cookies as they were');
      const scheduled = await h.run(SMALL_SELECT);
      assert.is(scheduled.code, 0, scheduled.stderr);
      assert.match(summaryLine(scheduled.stderr) ?? '', /user incremental, group incremental/);
      assert.match(await h.read('directoryobjects'), /adele@contoso\.com/);
      // Asked for, the other folder becomes the scheduled run's.
      h.emu.tenant.update(ADELE, { mail: 'adele2@contoso.com' });
      const moved = await h.run({ ...SMALL_SELECT, output: elsewhere, advanceCookies: true });
      assert.is(moved.code, 0, moved.stderr);
      assert.not.match(moved.stderr, /cookies not advanced/);
      const next = await h.run({ ...SMALL_SELECT, output: elsewhere });
      assert.not.match(next.stderr, /cookies not advanced/);
      assert.not.match(await readFile(join(elsewhere, 'Contoso_directoryobjects.csv'), 'utf8'), /adele2/);
    }),
);

AdHoc('exportCommand({ select, advanceCookies }) makes another mapping the scheduled one', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    const narrow = { select: ['user=displayName'] };
    const r = await h.run({ ...narrow, advanceCookies: true });
    assert.is(r.code, 0, r.stderr);
    assert.match(summaryLine(r.stderr) ?? '', /^entra export: Contoso: user complete;/);
    const next = await h.run(narrow);
    assert.is(next.code, 0, next.stderr);
    assert.match(summaryLine(next.stderr) ?? '', /^entra export: Contoso: user incremental;/);
  }),
);

AdHoc.run();

// ---

const OneWriter = suite('exportCommand (one writer per connection)');

OneWriter('exportCommand(args) while the connection is locked fails at once, touching nothing', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    const lock = await acquireLock(join(h.cookies, 'Contoso.lock'), {
      command: 'entra export (connection Contoso)',
    });
    try {
      const before = await h.snapshot();
      const requests = h.emu.requests.length;
      const r = await h.run(SMALL_SELECT);
      assert.is(r.code, 1, r.stderr);
      assert.match(
        r.stderr,
        new RegExp(
          `^entra: ERR_LOCKED: .*Contoso\\.lock is held by entra export \\(connection Contoso\\), pid ${process.pid} on .*: one run at a time per connection`,
        ),
      );
      assert.is(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
      assert.equal(await h.snapshot(), before);
      assert.ok(
        h.emu.requests.slice(requests).every((q) => !q.path.includes('/delta')),
        'no delta request',
      );
    } finally {
      await lock.release();
    }
  }),
);

OneWriter(
  'exportCommand(args) twice at once: one runs, the other fails with ERR_LOCKED, files intact',
  async () =>
    withHarness(
      { tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS, latency: { fixedMs: 10 } },
      async (h) => {
        assert.is((await h.run(SMALL_SELECT)).code, 0);
        h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
        const runs = await Promise.all([h.run(SMALL_SELECT), h.run(SMALL_SELECT)]);
        assert.equal(runs.map((r) => r.code).sort(), [0, 1], runs.map((r) => r.stderr).join('\n'));
        assert.match(runs.find((r) => r.code === 1)!.stderr, /^entra: ERR_LOCKED: /);
        assert.match(await h.read('directoryobjects'), /adele@contoso\.com/);
        assert.equal(
          (await ls(h)).filter((f) => /\.(tmp|bak|lock)$|_commit\.json$/.test(f)),
          [],
        );
      },
    ),
);

OneWriter.run();

// ---

const Progress = suite('exportCommand (progress and temp files)');

Progress('exportCommand({ progress }) prints a plain progress line now and then without a TTY', async () =>
  withHarness(
    { tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS, latency: { fixedMs: 25 } },
    async (h) => {
      // A sequential round (--parallel auto may count to size its partitions).
      const quiet = await h.run({ ...SMALL_SELECT, parallel: 1 }, { progressIntervalMs: 20 });
      assert.not.match(quiet.stderr, /^entra export: \d/m);
      assert.not.ok(
        h.emu.requests.some((q) => q.path.includes('$count')),
        'no count without progress',
      );
      const r = await h.run(
        { ...SMALL_SELECT, ignoreCookies: true, progress: true, parallel: 1 },
        { progressIntervalMs: 20 },
      );
      assert.is(r.code, 0, r.stderr);
      assert.match(
        r.stderr,
        /^entra export: \d+(\/\d+ objects \(\d+%\)(; ETA \S+( \S+)?)?| objects)(; \d+ objects\/s)?; user \d+(\/15)? \(\d+ p\), group \d+(\/7)? \(\d+ p\); 0 retries$/m,
      );
      // The total comes from Graph's counts, asked for alongside the delta rounds.
      assert.equal(
        h.emu.requests.filter((q) => q.path.includes('$count')).map((q) => `${q.path} ${q.status}`),
        ['/v1.0/users/$count 200', '/v1.0/groups/$count 200'],
      );
      assert.not.ok(r.stderr.includes('\r') || r.stderr.includes('\u001b'), 'no TTY control characters');
      const silent = await h.run(
        { ...SMALL_SELECT, progress: true, quiet: true },
        { progressIntervalMs: 20 },
      );
      assert.is(silent.stderr, '');
    },
  ),
);

Progress(
  'exportCommand(args) sweeps the temp files a killed run of the connection left, and only those',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const dead = spawnSync(process.execPath, ['-e', '0']).pid;
      await mkdir(h.out, { recursive: true });
      await mkdir(h.cookies, { recursive: true });
      const stale = [
        `out/.Contoso_directoryobjects.csv.${dead}.0a1b2c3d.tmp`,
        `cookies/.Contoso_cookie_user.bin.${dead}.deadbeef.tmp`,
      ];
      const kept = [
        `out/.Contoso_members_group.csv.${process.pid}.00c0ffee.tmp`,
        `out/.Fabrikam_directoryobjects.csv.${dead}.0a1b2c3d.tmp`,
        'out/notes.txt',
      ];
      for (const name of [...stale, ...kept]) await writeFile(join(h.dir, name), 'x');
      const r = await h.run(SMALL_SELECT);
      assert.is(r.code, 0, r.stderr);
      const files = await ls(h);
      for (const name of stale) assert.not.ok(files.includes(name), name);
      for (const name of kept) assert.ok(files.includes(name), name);
    }),
);

Progress.run();
