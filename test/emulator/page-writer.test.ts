import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { EntityName } from '../../src/graph/schema.js';
import { LinkSet } from '../../src/emulator/link-set.js';
import { LinkList, LinkRun, PageWriter } from '../../src/emulator/page-writer.js';

const A = '693acd06-2877-4339-8ade-b704261fe7a0';
const B = '49320844-be99-4164-8167-87ff5d047ace';

const List = suite('LinkList');

List('push(id, kind) appends; set(id, kind, removed) replaces an entry for the same id in place', () => {
  const list = new LinkList();
  list.push(A, 'user');
  list.set(B, 'group', false);
  list.set(A, 'user', true);
  assert.equal(list.ids, [A, B]);
  assert.equal(list.kinds, ['user', 'group']);
  assert.equal(list.removed, [true, false]);
  assert.is(list.size, 2);
});

List.run();

// ---

const Writer = suite('PageWriter');

Writer('links(nav, list) writes members@delta items with @odata.type, and @removed for removals', () => {
  const list = new LinkList();
  list.set(A, 'user', false);
  list.set(B, 'servicePrincipal', true);
  const out = new PageWriter(16);
  out.ascii('{');
  out.links('members', list);
  out.ascii('}');
  assert.equal(JSON.parse(out.done().bytes.toString('utf8')), {
    'members@delta': [
      { '@odata.type': '#microsoft.graph.user', id: A },
      { '@odata.type': '#microsoft.graph.servicePrincipal', id: B, '@removed': { reason: 'deleted' } },
    ],
  });
});

Writer('text(s) writes UTF-8 and the buffer grows past its size hint', () => {
  const out = new PageWriter(0);
  const value = 'Zoë Ngô '.repeat(20_000);
  out.ascii('{"displayName":');
  out.text(JSON.stringify(value));
  out.ascii(',');
  const many = new LinkList();
  for (let i = 0; i < 300; i++) many.push(`00000000-0000-4000-8000-${String(i).padStart(12, '0')}`, 'user');
  out.links('owners', many);
  out.ascii('}');
  const parsed = JSON.parse(out.done().bytes.toString('utf8'));
  assert.is(parsed.displayName, value);
  assert.is(parsed['owners@delta'].length, 300);
  assert.is(parsed['owners@delta'][299].id, '00000000-0000-4000-8000-000000000299');
});

Writer("links(nav, run) writes a run of a link set from its offsets, with each link's type", () => {
  const set = new LinkSet<EntityName>();
  set.load(A, 'user');
  set.add(B, 'group');
  set.add('short-id', 'user');
  const run = new LinkRun(set);
  run.offsets.push(0, 1, 2);
  const out = new PageWriter(0);
  out.ascii('{');
  out.links('members', run);
  out.ascii('}');
  assert.equal(JSON.parse(out.done().bytes.toString('utf8'))['members@delta'], [
    { '@odata.type': '#microsoft.graph.user', id: A },
    { '@odata.type': '#microsoft.graph.group', id: B },
    { '@odata.type': '#microsoft.graph.user', id: 'short-id' },
  ]);
});

Writer('done().release() hands the buffer back: the next page reuses it', () => {
  const first = new PageWriter(100);
  first.ascii('{"a":1}');
  const { bytes, release } = first.done();
  release();
  const second = new PageWriter(100);
  second.ascii('{"b":2}');
  const again = second.done();
  assert.is(again.bytes.buffer, bytes.buffer);
  assert.is(again.bytes.toString(), '{"b":2}');
  again.release();
});

Writer.run();
