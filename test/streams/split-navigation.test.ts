import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { splitNavigation, splitNavigationStream } from '../../src/streams/split-navigation.js';
import type { EntityName } from '../../src/graph/schema.js';
import { resolveMapping } from '../../src/settings/mapping.js';
import type { ExportMsg, GraphObject, RoutedMsg } from '../../src/types.js';
import { collect, fromArray } from '../helpers/streams.js';

const Split = suite('splitNavigation');

// The incremental shape from the Graph docs (graph-protocol.md §3.2).
const group = {
  id: 'c2f798fd-f95d-4623-8824-63aec21fffff',
  displayName: 'All Company',
  'members@delta': [
    { '@odata.type': '#microsoft.graph.user', id: '632f6bb2', '@removed': { reason: 'deleted' } },
    { '@odata.type': '#microsoft.graph.user', id: '37de1ae3' },
    { '@odata.type': '#microsoft.graph.group', id: '49320844', '@removed': { reason: 'changed' } },
  ],
};

Split('splitNavigation(record, members, group) gives insert rows, and delete rows for any @removed', () => {
  assert.equal(splitNavigation(group, 'members', 'group'), [
    { table: 'members_group', cells: { Command: 'delete', groupId: group.id, id: '632f6bb2' } },
    { table: 'members_group', cells: { Command: 'insert', groupId: group.id, id: '37de1ae3' } },
    { table: 'members_group', cells: { Command: 'delete', groupId: group.id, id: '49320844' } },
  ]);
});

Split(
  'splitNavigation(record, owners, directoryRole) names the table and owner column after the entity',
  () => {
    const rows = splitNavigation({ id: 'r1', 'owners@delta': [{ id: 'u1' }] }, 'owners', 'directoryRole');
    assert.equal(rows, [
      { table: 'owners_directoryRole', cells: { Command: 'insert', directoryRoleId: 'r1', id: 'u1' } },
    ]);
  },
);

Split('splitNavigation(record) without the annotation gives no rows', () => {
  assert.equal(splitNavigation({ id: 'g1' }, 'members', 'group'), []);
  assert.equal(splitNavigation({ id: 'g1', 'members@delta': [] }, 'members', 'group'), []);
  assert.equal(splitNavigation(group, 'owners', 'group'), []);
});

Split('splitNavigation(record) fails with ERR_GRAPH_PAYLOAD on an entry without an id', () => {
  try {
    splitNavigation(
      { id: 'g1', 'members@delta': [{ '@odata.type': '#microsoft.graph.user' }] },
      'members',
      'group',
    );
    assert.unreachable();
  } catch (error) {
    assert.is((error as { code: string }).code, 'ERR_GRAPH_PAYLOAD');
    assert.match((error as Error).message, 'g1');
  }
});

Split.run();

// ---

const Stream = suite('splitNavigationStream');

const routed = (entity: EntityName, records: GraphObject[]): RoutedMsg => ({
  kind: 'routed',
  entity,
  records,
  owners: records.map(() => entity),
  rows: records.map(() => undefined),
});

Stream(
  'splitNavigationStream({mapping}) splits each slice of a large group, other entities give nothing',
  async () => {
    const mapping = resolveMapping({ select: ['user=mail', 'group=displayName,members'] });
    const msgs: ExportMsg[] = [
      routed('group', [{ id: 'g1', 'members@delta': [{ id: 'u1' }, { id: 'u2' }] }]),
      routed('user', [{ id: 'u1' }]),
      routed('group', [{ id: 'g1', 'members@delta': [{ id: 'u3' }] }]),
    ];
    const out = await collect(fromArray(msgs).through(splitNavigationStream({ mapping })));
    assert.equal(
      out.flatMap((m) => (m.kind === 'rows' ? m.rows.map((r) => r.cells.id) : [])),
      ['u1', 'u2', 'u3'],
    );
    assert.equal(
      out.map((m) => (m.kind === 'rows' ? m.records : m.kind)),
      [1, 1, 1],
    );
  },
);

Stream('splitNavigationStream(options) rejects a navigation the entity does not export', () => {
  for (const entities of [
    [{ entity: 'directoryRole' as EntityName, attributes: ['id'], navigations: ['owners'] }],
    [{ entity: 'users' as EntityName, attributes: ['id'], navigations: ['members'] }],
  ]) {
    try {
      splitNavigationStream({ mapping: { entities } });
      assert.unreachable();
    } catch (error) {
      assert.is((error as { code: string }).code, 'ERR_INVALID_OPTION');
    }
  }
});

Stream.run();
