import { randomUUID } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { resolveMapping } from '../../src/settings/mapping.js';
import {
  createRouter,
  createSeenIds,
  exportTables,
  routeByTypeStream,
  type RoundMode,
  type SeenIds,
} from '../../src/streams/route-by-type.js';
import { splitNavigationStream } from '../../src/streams/split-navigation.js';
import type { ExportMsg, GraphObject, RecordMsg, SourceMsg, TableRow } from '../../src/types.js';
import type { EntityName } from '../../src/graph/schema.js';
import { collect, fromArray } from '../helpers/streams.js';

const mapping = resolveMapping({
  select: [
    'user=accountEnabled,mail',
    'group=displayName,members,owners',
    'directoryRole=displayName,members',
  ],
});
const complete = (): RoundMode => 'complete';
const record = (entity: EntityName, r: GraphObject): RecordMsg => ({ kind: 'record', entity, record: r });
const brief = (rows: TableRow[]) => rows.map((r) => `${r.table}:${Object.values(r.cells).join(',')}`);

const Router = suite('createRouter');

Router('createRouter() in a complete round: insert first, update on a repeat, delete for @removed', () => {
  const route = createRouter({ mapping, mode: complete });
  assert.equal(
    [
      record('user', { id: 'u1', accountEnabled: true, mail: 'a@x' }),
      record('user', { id: 'u1', accountEnabled: false, mail: 'a@x' }),
      record('user', { id: 'u2', '@removed': { reason: 'deleted' } }),
    ].flatMap((m) => brief(route(m))),
    [
      'directoryobjects:insert,#microsoft.graph.user,true,,u1,a@x',
      'directoryobjects:update,#microsoft.graph.user,false,,u1,a@x',
      'directoryobjects:delete,#microsoft.graph.user,,,u2,',
    ],
  );
});

Router('createRouter() in an incremental round: update, or delete for @removed', () => {
  const route = createRouter({ mapping, mode: () => 'incremental' });
  assert.equal(brief(route(record('user', { id: 'u1', mail: 'a@x' }))), [
    'directoryobjects:update,#microsoft.graph.user,,,u1,a@x',
  ]);
  assert.equal(brief(route(record('user', { id: 'u1', '@removed': { reason: 'changed' } }))), [
    'directoryobjects:delete,#microsoft.graph.user,,,u1,',
  ]);
});

Router('createRouter() keeps Graph’s @odata.type and leaves other entities’ columns empty', () => {
  const route = createRouter({ mapping, mode: complete });
  const rows = route(
    record('group', {
      '@odata.type': '#microsoft.graph.group',
      id: 'g1',
      displayName: 'G',
      mail: 'not-mapped@x',
    }),
  );
  assert.equal(brief(rows), ['directoryobjects:insert,#microsoft.graph.group,,G,g1,']);
});

Router('createRouter() adds the link rows of every slice of a large group', () => {
  const route = createRouter({ mapping, mode: complete });
  const slice1 = record('group', {
    id: 'g1',
    displayName: 'Big',
    'members@delta': [{ id: 'u1' }, { id: 'u2' }],
    'owners@delta': [{ id: 'u9' }],
  });
  const slice2 = record('group', { id: 'g1', displayName: 'Big', 'members@delta': [{ id: 'u3' }] });
  assert.equal(
    [...brief(route(slice1)), ...brief(route(slice2))],
    [
      'directoryobjects:insert,#microsoft.graph.group,,Big,g1,',
      'members_group:insert,g1,u1',
      'members_group:insert,g1,u2',
      'owners_group:insert,g1,u9',
      'members_group:insert,g1,u3',
    ],
  );
});

Router('createRouter({seen}) uses the injected seen-state and asks the mode per record', () => {
  const added: string[] = [];
  const seen: SeenIds = {
    add: (id) => (added.push(id), id !== 'old'),
    size: 0,
  };
  let mode: RoundMode = 'complete';
  const route = createRouter({ mapping, mode: () => mode, seen });
  assert.is(route(record('user', { id: 'old' }))[0]!.cells.Command, 'update');
  assert.is(route(record('user', { id: 'new' }))[0]!.cells.Command, 'insert');
  assert.is(
    route(record('user', { id: 'gone', '@removed': { reason: 'deleted' } }))[0]!.cells.Command,
    'delete',
  );
  mode = 'incremental';
  assert.is(route(record('user', { id: 'x' }))[0]!.cells.Command, 'update');
  assert.equal(added, ['old', 'new']);
});

Router(
  'createRouter({linksOnlyRepeats}): a resumed partitioned round writes no second row for an object written before the kill, only its links',
  () => {
    const seen = createSeenIds();
    seen.add('g1'); // read back from the part file
    const slice = () => record('group', { id: 'g1', displayName: 'Big', 'members@delta': [{ id: 'u3' }] });
    const other = () => record('group', { id: 'g2', displayName: 'Other' });
    const resumed = createRouter({ mapping, mode: complete, seen, linksOnlyRepeats: new Set(['group']) });
    assert.equal(
      [...brief(resumed(other())), ...brief(resumed(slice()))],
      ['directoryobjects:insert,#microsoft.graph.group,,Other,g2,', 'members_group:insert,g1,u3'],
    );
    // Without it (a sequential round), a repeat that is not the last row is an update.
    const plain = createRouter({ mapping, mode: complete, seen: createSeenIds() });
    plain(record('group', { id: 'g1', displayName: 'Big' }));
    plain(other());
    assert.equal(brief(plain(slice()))[0], 'directoryobjects:update,#microsoft.graph.group,,Big,g1,');
  },
);

Router('createRouter() fails on records of an entity the mapping does not export', () => {
  const route = createRouter({ mapping, mode: complete });
  try {
    route(record('servicePrincipal', { id: 's1' }));
    assert.unreachable();
  } catch (error) {
    assert.is((error as { code: string }).code, 'ERR_UNMAPPED_ENTITY');
  }
});

Router('createRouter() fails with ERR_GRAPH_PAYLOAD on a record without an id', () => {
  const route = createRouter({ mapping, mode: complete });
  try {
    route(record('user', { mail: 'a@x' } as unknown as GraphObject));
    assert.unreachable();
  } catch (error) {
    assert.is((error as { code: string }).code, 'ERR_GRAPH_PAYLOAD');
  }
});

Router('createRouter(bad options) fails with ERR_INVALID_OPTION', () => {
  try {
    createRouter({ mapping: { entities: [] }, mode: complete });
    assert.unreachable();
  } catch (error) {
    assert.is((error as { code: string }).code, 'ERR_INVALID_OPTION');
  }
});

Router(
  'createRouter() writes a large group repeated with its next slice of members once, and every link',
  () => {
    const route = createRouter({ mapping, mode: complete });
    const g = (members: string[]) =>
      record('group', {
        id: 'g1',
        displayName: 'Big',
        'members@delta': members.map((id) => ({ '@odata.type': '#microsoft.graph.user', id })),
      });
    assert.equal(
      [g(['u1', 'u2']), g(['u3']), record('group', { id: 'g1', displayName: 'Renamed' })].flatMap((m) =>
        brief(route(m)),
      ),
      [
        'directoryobjects:insert,#microsoft.graph.group,,Big,g1,',
        'members_group:insert,g1,u1',
        'members_group:insert,g1,u2',
        'members_group:insert,g1,u3',
        'directoryobjects:update,#microsoft.graph.group,,Renamed,g1,',
      ],
    );
  },
);

Router(
  'createRouter({ typed }) gives each object row its own columns as typed values, for every entity',
  () => {
    const wide = resolveMapping({
      select: [
        'user=accountEnabled,businessPhones,employeeHireDate,onPremisesExtensionAttributes,manager',
        'group=groupTypes,securityEnabled,members',
        'servicePrincipal=appRoleAssignmentRequired,tags',
        'directoryRole=displayName,members',
      ],
    });
    const route = createRouter({ mapping: wide, mode: complete, typed: true });
    const values = (entity: EntityName, r: GraphObject) => route(record(entity, r)).map((row) => row.values);
    assert.equal(
      values('user', {
        id: 'u1',
        accountEnabled: false,
        businessPhones: ['+1 425 555 0001'],
        onPremisesExtensionAttributes: { extensionAttribute1: 'HR' },
        mail: 'not mapped',
        'manager@delta': [{ id: 'u2' }],
      }),
      [
        {
          accountEnabled: false,
          businessPhones: ['+1 425 555 0001'],
          employeeHireDate: null,
          id: 'u1',
          onPremisesExtensionAttributes: { extensionAttribute1: 'HR' },
        },
        undefined,
      ],
      'user: booleans, arrays, objects; null for absent; the link row has no values',
    );
    assert.equal(
      values('user', { id: 'u3', accountEnabled: true }),
      [
        {
          accountEnabled: true,
          businessPhones: [],
          employeeHireDate: null,
          id: 'u3',
          onPremisesExtensionAttributes: null,
        },
      ],
      'a collection Graph left out is []',
    );
    assert.equal(
      values('group', { id: 'g1', groupTypes: ['Unified'], securityEnabled: false, accountEnabled: true }),
      [{ groupTypes: ['Unified'], id: 'g1', securityEnabled: false }],
    );
    assert.equal(
      values('servicePrincipal', {
        id: 's1',
        appRoleAssignmentRequired: true,
        tags: ['WindowsAzureActiveDirectoryIntegratedApp'],
      }),
      [{ appRoleAssignmentRequired: true, id: 's1', tags: ['WindowsAzureActiveDirectoryIntegratedApp'] }],
    );
    assert.equal(values('directoryRole', { id: 'r1', displayName: 'Global Administrator' }), [
      { displayName: 'Global Administrator', id: 'r1' },
    ]);
    assert.equal(
      values('group', { id: 'g2', '@removed': { reason: 'deleted' } }),
      [{ id: 'g2' }],
      'delete: the id only',
    );
    assert.is(
      createRouter({ mapping: wide, mode: complete })(record('group', { id: 'g3' }))[0]!.values,
      undefined,
    );
  },
);

Router.run();

// ---

const Tables = suite('exportTables');

Tables('exportTables(mapping) lists the object table then the link tables with their headers', () => {
  assert.equal(exportTables(mapping), [
    {
      table: 'directoryobjects',
      columns: ['Command', '@odata.type', 'accountEnabled', 'displayName', 'id', 'mail'],
    },
    { table: 'members_group', columns: ['Command', 'groupId', 'id'] },
    { table: 'owners_group', columns: ['Command', 'groupId', 'id'] },
    { table: 'members_directoryRole', columns: ['Command', 'directoryRoleId', 'id'] },
  ]);
});

Tables.run();

// ---

const Seen = suite('createSeenIds');

Seen('createSeenIds() agrees with a Set over many GUIDs, growing as needed', () => {
  const seen = createSeenIds(16);
  const reference = new Set<string>();
  const ids = Array.from({ length: 20_000 }, () => randomUUID());
  for (const id of [...ids, ...ids.slice(0, 5_000)]) {
    assert.is(seen.add(id), !reference.has(id));
    reference.add(id);
  }
  assert.is(seen.size, 20_000);
});

Seen('createSeenIds() treats GUID case alike, and keeps non-GUIDs and the nil GUID apart', () => {
  const seen = createSeenIds();
  assert.ok(seen.add('6E9B5B4A-0000-4000-8000-00000000000A'));
  assert.not.ok(seen.add('6e9b5b4a-0000-4000-8000-00000000000a'));
  assert.ok(seen.add('00000000-0000-0000-0000-000000000000'));
  assert.not.ok(seen.add('00000000-0000-0000-0000-000000000000'));
  assert.ok(seen.add('00000000-0000-0000-0000-000000000001'));
  assert.ok(seen.add('not-a-guid'));
  assert.not.ok(seen.add('not-a-guid'));
  assert.ok(seen.add('6e9b5b4a-0000-4000-8000-00000000000g'));
  assert.is(seen.size, 5);
});

Seen.run();

// ---

const Stream = suite('routeByTypeStream');

Stream(
  'routeByTypeStream() then splitNavigationStream() give each page its rows; mode and state pass',
  async () => {
    const msgs: SourceMsg[] = [
      { kind: 'mode', entity: 'user', mode: 'complete' },
      { kind: 'page', entity: 'user', records: [{ id: 'u1', mail: 'a@x' }] },
      {
        kind: 'page',
        entity: 'directoryRole',
        records: [{ id: 'r1', displayName: 'Admins', 'members@delta': [{ id: 'u1' }] }],
      },
      { kind: 'state', entity: 'user', deltaLink: 'https://graph/users/delta?$deltatoken=1' },
    ];
    const out = await collect(
      fromArray<ExportMsg>(msgs)
        .through(routeByTypeStream({ mapping }))
        .through(splitNavigationStream({ mapping })),
    );
    assert.equal(
      out.map((m) => m.kind),
      ['mode', 'rows', 'rows', 'state'],
    );
    assert.equal(brief(out.flatMap((m) => (m.kind === 'rows' ? m.rows : []))), [
      'directoryobjects:insert,#microsoft.graph.user,,,u1,a@x',
      'directoryobjects:insert,#microsoft.graph.directoryRole,,Admins,r1,',
      'members_directoryRole:insert,r1,u1',
    ]);
  },
);

Stream(
  'routeByTypeStream() follows the mode messages of the stream: update in an incremental round',
  async () => {
    const out = await collect(
      fromArray<ExportMsg>([
        { kind: 'mode', entity: 'user', mode: 'incremental' },
        {
          kind: 'page',
          entity: 'user',
          records: [
            { id: 'u1', mail: 'a@x' },
            { id: 'u2', '@removed': { reason: 'deleted' } },
          ],
        },
      ])
        .through(routeByTypeStream({ mapping }))
        .through(splitNavigationStream({ mapping })),
    );
    assert.equal(brief(out.flatMap((m) => (m.kind === 'rows' ? m.rows : []))), [
      'directoryobjects:update,#microsoft.graph.user,,,u1,a@x',
      'directoryobjects:delete,#microsoft.graph.user,,,u2,',
    ]);
  },
);

Stream.run();
