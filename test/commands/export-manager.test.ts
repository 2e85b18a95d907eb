import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { csvObjects, openHarness, withHarness, type Harness } from '../helpers/export-harness.js';

// Users of samples/tenant.json and their managers there.
const PATTI = '53aee924-b6cd-5d8a-b7a7-1ba7404c609f';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const MIRIAM = '18b43e0b-4570-5841-9622-f359232794b9';
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ISAIAH = 'b69a0226-518a-591b-a8ad-0c16b4e1e48a';
const JOHANNA = 'bba08a02-71f0-5392-b437-bb30c7ba28d2';
const ZOE = '7fab4571-2c0d-5e77-99c9-86774153243f';
const GRADY = '297ceaa5-7b75-540f-b2e9-cf82a2590cd6';

const MANAGER = { select: ['user=displayName,manager'] };
const HEADER = 'Command,userId,id';
const sorted = (text: string) => text.split('\n').filter(Boolean).sort().join('\n');

const Complete = suite('exportCommand (manager, complete)');

Complete(
  'exportCommand({ select: user=...,manager }) writes every reporting line of a generated tenant',
  () =>
    withHarness(
      { generate: { users: 250, groups: 3, seed: 9 }, deltaLimits: { objects: 40, links: 60, scan: 400 } },
      async (h) => {
        const r = await h.run(MANAGER);
        assert.is(r.code, 0, r.stderr);
        const text = await h.read('manager_user');
        assert.is(text.split('\n')[0], HEADER);
        const rows = csvObjects(text);
        assert.ok(rows.every((row) => row.Command === 'insert'));
        const expected = h.emu.tenant
          .list('user')
          .flatMap((u) => h.emu.tenant.links(u.id, 'manager').map((m) => `${u.id} ${m}`))
          .sort();
        assert.ok(expected.length > 150, `most users have a manager (${expected.length})`);
        assert.equal(rows.map((row) => `${row.userId} ${row.id}`).sort(), expected);
        // A navigation, never a column.
        assert.is((await h.read('directoryobjects')).split('\n')[0], 'Command,@odata.type,displayName,id');
        assert.match(r.stderr, /manager_user insert \d+/);
        assert.ok(
          r.stderr.includes('wrote Contoso_directoryobjects.csv, Contoso_manager_user.csv in'),
          r.stderr,
        );
      },
    ),
);

Complete('exportCommand({ output: "-", table: "manager_user" }) streams the manager table', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const r = await h.run({ ...MANAGER, output: '-', table: 'manager_user', ignoreCookies: true });
    assert.is(r.code, 0, r.stderr);
    const lines = r.stdout.trimEnd().split('\n');
    assert.is(lines[0], HEADER);
    assert.ok(lines.includes(`insert,${ADELE},${MIRIAM}`));
    assert.is(lines.length, 1 + 11, 'eleven users of the sample tenant have a manager');
  }),
);

Complete.run();

// ---

/** One tenant, a complete round, then one change and one incremental round per test, in order. */
const Incremental = suite<{ h: Harness & { close(): Promise<void> } }>(
  'exportCommand (manager, incremental)',
);

interface Step {
  name: string;
  change: (h: Harness) => void;
  /** `Command,id` of the directoryobjects rows. */
  objects: string[];
  links: string[];
}

const STEPS: Step[] = [
  {
    name: 'a change of manager is a delete of the old link and an insert of the new one',
    change: (h) => void h.emu.tenant.setManager(ADELE, LEE),
    objects: [`update,${ADELE}`],
    links: [`delete,${ADELE},${MIRIAM}`, `insert,${ADELE},${LEE}`],
  },
  {
    name: 'a manager set where there was none is an insert',
    change: (h) => void h.emu.tenant.setManager(PATTI, MIRIAM),
    objects: [`update,${PATTI}`],
    links: [`insert,${PATTI},${MIRIAM}`],
  },
  {
    name: 'a removed manager is a delete',
    change: (h) => void h.emu.tenant.removeManager(ISAIAH),
    objects: [`update,${ISAIAH}`],
    links: [`delete,${ISAIAH},${MIRIAM}`],
  },
  {
    name: 'a soft-deleted manager is the delete of that user only (a restore brings it back)',
    change: (h) => h.emu.tenant.delete(MIRIAM),
    objects: [`delete,${MIRIAM}`],
    links: [],
  },
  {
    name: 'a manager deleted for good leaves each report with a link delete',
    change: (h) => h.emu.tenant.purge(LEE),
    objects: [`delete,${LEE}`, `update,${ADELE}`, `update,${JOHANNA}`, `update,${ZOE}`, `update,${GRADY}`],
    links: [
      `delete,${ADELE},${LEE}`,
      `delete,${JOHANNA},${LEE}`,
      `delete,${ZOE},${LEE}`,
      `delete,${GRADY},${LEE}`,
    ],
  },
  {
    name: 'a change to something else gives no link row',
    change: (h) => void h.emu.tenant.update(PATTI, { displayName: 'Patti F.' }),
    objects: [`update,${PATTI}`],
    links: [],
  },
];

Incremental.before(async (context) => {
  context.h = await openHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS });
  const first = await context.h.run(MANAGER);
  assert.is(first.code, 0, first.stderr);
});

Incremental.after(async (context) => {
  await context.h?.close();
});

for (const step of STEPS)
  Incremental(`exportCommand(args) after a round: ${step.name}`, async ({ h }) => {
    step.change(h);
    const r = await h.run(MANAGER);
    assert.is(r.code, 0, r.stderr);
    assert.match(r.stderr, /Contoso: user incremental;/);
    const objects = csvObjects(await h.read('directoryobjects')).map((o) => `${o.Command},${o.id}`);
    assert.equal(objects.sort(), [...step.objects].sort());
    assert.fixture(sorted(await h.read('manager_user')), sorted([HEADER, ...step.links].join('\n')));
  });

Incremental.run();
