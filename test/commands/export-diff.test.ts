import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { snapshotPath } from '../../src/sinks/snapshot.js';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { apply, lines, truth, type Model, TABLES } from '../helpers/diff-model.js';
import { csvObjects, openHarness, runExport, type Harness } from '../helpers/export-harness.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
import { SELECT } from '../helpers/diff-model.js';
const DIFF = { select: SELECT, diff: true };
const DAY = 24 * 3600 * 1000;

const rowsOf = async (h: Harness, table: string) =>
  (await h.read(table)).split('\n').slice(1).filter(Boolean).sort();

/** Each group's links to `id` through `nav` as link rows with `command`. */
const linksTo = (h: Harness, nav: string, id: string, command: string) =>
  h.emu.tenant
    .list('group')
    .filter((g) => h.emu.tenant.links(g.id, nav).includes(id))
    .map((g) => `${command},${g.id},${id}`)
    .sort();

interface Step {
  name: string;
  change: (h: Harness) => void;
  /** Extra arguments of the run (besides --select and --diff). */
  args?: Record<string, unknown>;
  /** The round mode the summary line says, e.g. `user complete, group complete`. */
  modes?: string;
  /** Expected rows per table (sorted). */
  expect?: (h: Harness) => Partial<Record<(typeof TABLES)[number], string[]>>;
  /** Work `expect` out before the change (a deleted object's links are gone from the tenant after it). */
  expectBefore?: true;
  warn?: RegExp;
}

const STEPS: Step[] = [
  {
    name: 'an updated attribute: one update row',
    change: (h) => void h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' }),
    expect: () => ({
      directoryobjects: [`update,#microsoft.graph.user,Adele Vance,${ADELE},adele@contoso.com`],
    }),
  },
  {
    name: 'a change to an unselected attribute (Graph sends the user again): no row',
    change: (h) => void h.emu.tenant.update(ALEX, { jobTitle: 'Chief Marketing Officer' }),
    expect: () => ({}),
  },
  {
    name: 'a created user: one insert row',
    change: (h) => void h.emu.tenant.createUser({ displayName: 'Nina Novak', mail: 'nina@contoso.com' }),
    expect: (h) => {
      const id = h.emu.tenant.list('user').find((u) => u.data.displayName === 'Nina Novak')!.id;
      return { directoryobjects: [`insert,#microsoft.graph.user,Nina Novak,${id},nina@contoso.com`] };
    },
  },
  {
    name: 'an added member: the link insert only (the group is unchanged)',
    change: (h) => void h.emu.tenant.addMember(ENGINEERING, ALEX),
    expect: () => ({ members_group: [`insert,${ENGINEERING},${ALEX}`] }),
  },
  {
    name: 'a removed member: the link delete only',
    change: (h) => void h.emu.tenant.removeMember(ENGINEERING, LEE),
    expect: () => ({ members_group: [`delete,${ENGINEERING},${LEE}`] }),
  },
  {
    name: 'a removed owner and a renamed group: an update and an owners link delete',
    change: (h) => {
      h.emu.tenant.removeOwner(ENGINEERING, LEE);
      h.emu.tenant.update(SALES, { displayName: 'Sales' });
    },
    expect: () => ({
      directoryobjects: [`update,#microsoft.graph.group,Sales,${SALES},`],
      owners_group: [`delete,${ENGINEERING},${LEE}`],
    }),
  },
  {
    name: 'a hard delete: its delete row and the link deletes of the groups it leaves',
    change: (h) => h.emu.tenant.purge(ADELE),
    expect: () => ({
      directoryobjects: [`delete,#microsoft.graph.user,,${ADELE},`],
      members_group: [`delete,${ALL_STAFF},${ADELE}`, `delete,${SALES},${ADELE}`].sort(),
    }),
  },
  {
    name: 'no change: header-only files',
    change: () => {},
    expect: () => ({}),
  },
  {
    name: 'an expired cookie (Graph: syncStateNotFound): the complete round gives only the true changes',
    change: (h) => {
      h.emu.tenant.update(ALEX, { mail: 'alex@contoso.com' });
      h.emu.tenant.purge(LEE);
      h.emu.clock.advance(8 * DAY);
    },
    modes: 'user complete, group complete',
    warn: /user: .*running a complete round/,
    expectBefore: true,
    expect: (h) => ({
      directoryobjects: [
        `update,#microsoft.graph.user,Alex Wilber,${ALEX},alex@contoso.com`,
        `delete,#microsoft.graph.user,,${LEE},`,
      ].sort(),
      members_group: linksTo(h, 'members', LEE, 'delete'),
      owners_group: linksTo(h, 'owners', LEE, 'delete'),
    }),
  },
  {
    name: 'a synchronization reset (410 Gone): the complete round gives only the true changes',
    change: (h) => {
      h.emu.tenant.removeMember(SALES, ALEX);
      h.emu.tenant.addOwner(SALES, ALEX);
      h.emu.tenant.resetSync();
    },
    modes: 'user complete, group complete',
    warn: /running a complete round/,
    expect: () => ({
      members_group: [`delete,${SALES},${ALEX}`],
      owners_group: [`insert,${SALES},${ALEX}`],
    }),
  },
  {
    name: '--ignore-cookies: a complete round, only the true changes',
    change: (h) => void h.emu.tenant.update(ENGINEERING, { displayName: 'R&D' }),
    args: { ignoreCookies: true },
    modes: 'user complete, group complete',
    expect: () => ({ directoryobjects: [`update,#microsoft.graph.group,R&D,${ENGINEERING},`] }),
  },
  {
    name: 'a cookie older than 7 days by its sidecar: a complete round, only the true changes',
    change: (h) => h.emu.tenant.purge(ALEX),
    args: { oldCookie: 8 },
    modes: 'user complete, group incremental',
    warn: /user: cookie not used \(expired/,
    expectBefore: true,
    expect: (h) => ({
      directoryobjects: [`delete,#microsoft.graph.user,,${ALEX},`],
      members_group: linksTo(h, 'members', ALEX, 'delete'),
      owners_group: linksTo(h, 'owners', ALEX, 'delete'),
    }),
  },
];

const Diff = suite<{ h: Harness & { close(): Promise<void> }; model: Model }>('exportCommand({ diff })');

Diff.before(async (context) => {
  context.h = await openHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS });
  context.model = { objects: new Map(), links: new Set() };
});

Diff.after(async (context) => {
  await context.h?.close();
});

Diff(
  'the first run: every object and link inserted, the snapshot made beside the cookies',
  async ({ h, model }) => {
    const r = await h.run(DIFF);
    assert.is(r.code, 0, r.stderr);
    assert.not.match(r.stderr, /warning/);
    await apply(h, model, 'first');
    assert.equal(lines(model), lines(await truth(h)));
    for (const table of TABLES)
      assert.ok(
        (await rowsOf(h, table)).every((l) => l.startsWith('insert,')),
        table,
      );
    const db = new Database(snapshotPath(h.cookies, 'Contoso'), { readonly: true });
    try {
      const n = (sql: string) => (db.prepare(sql).pluck().get() as number) ?? 0;
      assert.is(n('SELECT count(*) FROM objects'), model.objects.size);
      assert.is(n('SELECT count(*) FROM links'), model.links.size);
      assert.is(n("SELECT count(*) FROM rounds WHERE entity IN ('user', 'group')"), 2);
      assert.is(n("SELECT length(hash) FROM objects WHERE entity = 'user' LIMIT 1"), 16);
    } finally {
      db.close();
    }
  },
);

for (const step of STEPS)
  Diff(`--diff after ${step.name}`, async ({ h, model }) => {
    const beforeChange = step.expectBefore ? step.expect?.(h) : undefined;
    step.change(h);
    const args: Record<string, unknown> = { ...DIFF, ...step.args };
    if (typeof args.oldCookie === 'number') {
      const sidecar = join(h.cookies, 'Contoso_cookie_user.json');
      const meta = JSON.parse(await readFile(sidecar, 'utf8')) as { createdAt: string };
      meta.createdAt = new Date(Date.now() - args.oldCookie * DAY).toISOString();
      await writeFile(sidecar, JSON.stringify(meta));
      delete args.oldCookie;
    }
    const r = await h.run(args);
    assert.is(r.code, 0, r.stderr);
    if (step.warn) assert.match(r.stderr, step.warn);
    else assert.not.match(r.stderr, /warning/);
    assert.match(
      r.stderr,
      new RegExp(`^entra export: Contoso: ${step.modes ?? 'user incremental, group incremental'};`, 'm'),
    );
    const expected = beforeChange ?? step.expect?.(h) ?? {};
    for (const table of TABLES) assert.equal(await rowsOf(h, table), expected[table] ?? [], `${table}`);
    await apply(h, model, step.name);
    assert.equal(lines(model), lines(await truth(h)));
  });

Diff(
  'a mapping change (--advance-cookies): updates only for objects whose cells changed',
  async ({ h, model }) => {
    const r = await h.run({
      select: ['user=displayName,jobTitle,mail', SELECT[1]!],
      diff: true,
      advanceCookies: true,
    });
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /^entra export: Contoso: user complete, group incremental;/m);
    const rows = csvObjects(await h.read('directoryobjects'));
    const withTitle = h.emu.tenant.list('user').filter((u) => u.data.jobTitle);
    assert.ok(withTitle.length > 0);
    assert.equal(
      rows.map((r) => `${r.Command} ${r.id}`).sort(),
      withTitle.map((u) => `update ${u.id}`).sort(),
    );
    for (const table of ['members_group', 'owners_group']) assert.equal(await rowsOf(h, table), [], table);
    // Back to the test's mapping: jobTitle leaves every row it was in.
    const back = await h.run({ ...DIFF, advanceCookies: true });
    assert.is(back.code, 0, back.stderr);
    assert.is(csvObjects(await h.read('directoryobjects')).length, withTitle.length);
    void model;
  },
);

Diff(
  'an ad-hoc --diff to stdout shows the change and moves nothing: the scheduled run still gets it',
  async ({ h }) => {
    const before = await h.snapshot();
    h.emu.tenant.update(ENGINEERING, { displayName: 'Engineering' });
    const adhoc = await h.run({ ...DIFF, output: '-', format: 'ndjson' });
    assert.is(adhoc.code, 0, adhoc.stderr);
    assert.is(
      adhoc.stdout,
      `{"table":"directoryobjects","Command":"update","@odata.type":"#microsoft.graph.group","displayName":"Engineering","id":"${ENGINEERING}"}\n`,
    );
    assert.equal(await h.snapshot(), before);
    const r = await h.run(DIFF);
    assert.is(r.code, 0, r.stderr);
    assert.equal(await rowsOf(h, 'directoryobjects'), [
      `update,#microsoft.graph.group,Engineering,${ENGINEERING},`,
    ]);
  },
);

Diff(
  'a run without --diff leaves the snapshot; the next --diff run is a complete round against it',
  async ({ h }) => {
    const file = snapshotPath(h.cookies, 'Contoso');
    const before = await readFile(file);
    h.emu.tenant.update(SALES, { displayName: 'Sales and Marketing' });
    const plain = await h.run({ select: SELECT });
    assert.is(plain.code, 0, plain.stderr);
    assert.equal(await readFile(file), before);
    assert.equal(await rowsOf(h, 'directoryobjects'), [
      `update,#microsoft.graph.group,Sales and Marketing,${SALES},`,
    ]);
    const r = await h.run(DIFF);
    assert.is(r.code, 0, r.stderr);
    assert.match(
      r.stderr,
      /user: the snapshot is not in step with the cookie .*running a complete round for --diff/,
    );
    assert.match(r.stderr, /^entra export: Contoso: user complete, group complete;/m);
    // Against the snapshot: the change the run without --diff already gave, nothing else.
    assert.equal(await rowsOf(h, 'directoryobjects'), [
      `update,#microsoft.graph.group,Sales and Marketing,${SALES},`,
    ]);
  },
);

Diff('--demo --diff keeps no snapshot anywhere', async ({ h }) => {
  const r = await runExport({ demo: true, diff: true, output: join(h.dir, 'demo') });
  assert.is(r.code, 0, r.stderr);
  assert.not.ok(existsSync(snapshotPath(join(h.dir, 'demo'), 'Demo')));
  assert.ok(csvObjects(await readFile(join(h.dir, 'demo', 'Demo_directoryobjects.csv'), 'utf8')).length > 10);
});

Diff.run();
