import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DirectoryStore, StoreError, type ChangeEntry } from '../../src/emulator/store.js';

const U1 = '11111111-1111-4111-8111-111111111111';
const U2 = '22222222-2222-4222-8222-222222222222';
const G1 = '99999999-9999-4999-8999-999999999999';
const G2 = '88888888-8888-4888-8888-888888888888';
const R1 = '77777777-7777-4777-8777-777777777777';

function store(): DirectoryStore {
  return new DirectoryStore({ tenantId: 't', domains: ['contoso.com'], now: () => Date.UTC(2025, 0, 1) });
}

function user(s: DirectoryStore, id: string, upn: string, log = true) {
  return s.create('user', { displayName: upn, userPrincipalName: upn }, { id, log });
}

function logOf(s: DirectoryStore, entity: 'user' | 'group' | 'directoryRole'): Omit<ChangeEntry, 'seq'>[] {
  return s.entityStore(entity).log.map(({ seq: _seq, ...rest }) => rest);
}

function throwsStore(fn: () => unknown, kind: StoreError['kind']): void {
  try {
    fn();
  } catch (e) {
    assert.instance(e, StoreError);
    assert.is((e as StoreError).kind, kind);
    return;
  }
  assert.unreachable(`expected a StoreError '${kind}'`);
}

const Create = suite('DirectoryStore.create');

Create('create(entity, data) lower-cases the id, keeps a copy of data and logs a whole-object upsert', () => {
  const s = store();
  const data = { displayName: 'Adele', userPrincipalName: 'adele@contoso.com' };
  const o = s.create('user', data, { id: U1.toUpperCase() });
  assert.is(o.id, U1);
  data.displayName = 'changed';
  assert.is(o.data.displayName, 'Adele');
  assert.equal(logOf(s, 'user'), [{ id: U1, kind: 'upsert', props: null }]);
  assert.is(s.seq, 1);
});

Create('create(entity, data, {log: false}) loads an object without a change-log entry', () => {
  const s = store();
  user(s, U1, 'a@contoso.com', false);
  assert.is(s.entityStore('user').log.length, 0);
  assert.is(s.seq, 0);
  assert.ok(s.get(U1));
});

Create('create(user) rejects a duplicate userPrincipalName (case-insensitive) and a missing one', () => {
  const s = store();
  user(s, U1, 'Adele@contoso.com');
  throwsStore(() => user(s, U2, 'adele@CONTOSO.com'), 'conflict');
  throwsStore(() => s.create('user', { displayName: 'x' }), 'invalid');
});

Create('create(entity, data, {id}) rejects an id already in use', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  throwsStore(() => s.create('group', { displayName: 'g' }, { id: U1 }), 'conflict');
});

Create(
  'create(entity, data, {id}) accepts GUID-like ids only: nothing a JSON page would need to escape',
  () => {
    const s = store();
    for (const bad of ['a"b', 'a\\b', 'zoë', 'a b', ''])
      throwsStore(() => s.create('group', { displayName: 'g' }, { id: bad }), 'invalid');
    assert.is(s.create('group', { displayName: 'g' }, { id: 'Group-1.x' }).id, 'group-1.x');
  },
);

Create(
  'create(group) gives groups members and owners link sets, directory roles members, users a manager',
  () => {
    const s = store();
    const g = s.create('group', { displayName: 'g' }, { id: G1 });
    const r = s.create('directoryRole', { displayName: 'r' }, { id: R1 });
    assert.equal(Object.keys(g.links ?? {}).sort(), ['members', 'owners']);
    assert.equal(Object.keys(r.links ?? {}), ['members']);
    assert.equal(Object.keys(user(s, U1, 'a@contoso.com').links ?? {}), ['manager']);
  },
);

Create.run();

// ---

const Get = suite('DirectoryStore.get');

Get('get(id) ignores case, hides soft-deleted objects unless includeDeleted', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  assert.is(s.get(U1.toUpperCase())?.id, U1);
  s.softDelete(U1);
  assert.is(s.get(U1), undefined);
  assert.is(s.get(U1, { includeDeleted: true })?.id, U1);
  assert.is(s.get('00000000-0000-4000-8000-000000000000'), undefined);
});

Get('userByPrincipalName(upn) ignores case and follows a rename', () => {
  const s = store();
  user(s, U1, 'Adele@contoso.com');
  assert.is(s.userByPrincipalName('ADELE@contoso.com')?.id, U1);
  s.update(U1, { userPrincipalName: 'adele.vance@contoso.com' });
  assert.is(s.userByPrincipalName('adele@contoso.com'), undefined);
  assert.is(s.userByPrincipalName('Adele.Vance@contoso.com')?.id, U1);
});

Get('entityOf(id) knows live, soft-deleted and permanently deleted objects', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  s.softDelete(U1);
  s.hardDelete(G1);
  assert.is(s.entityOf(U1), 'user');
  assert.is(s.entityOf(G1), 'group');
  assert.is(s.entityOf(U2), undefined);
});

Get('count(entity) counts live objects only', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  user(s, U2, 'b@contoso.com');
  assert.is(s.count('user'), 2);
  s.softDelete(U1);
  assert.is(s.count('user'), 1);
  s.restore(U1);
  s.hardDelete(U2);
  assert.is(s.count('user'), 1);
  assert.is(s.count('group'), 0);
});

Get.run();

// ---

const Update = suite('DirectoryStore.update');

Update('update(id, patch) sets values, removes keys set to null, and logs the changed properties', () => {
  const s = store();
  s.create('user', { displayName: 'A', userPrincipalName: 'a@contoso.com', jobTitle: 'x' }, { id: U1 });
  s.update(U1, { jobTitle: null, department: 'Sales', displayName: 'A' });
  const o = s.get(U1)!;
  assert.not.ok('jobTitle' in o.data);
  assert.is(o.data.department, 'Sales');
  assert.equal(logOf(s, 'user').at(-1), { id: U1, kind: 'upsert', props: ['jobTitle', 'department'] });
});

Update('update(id, patch) that changes nothing still logs an entry (Graph replays the object)', () => {
  const s = store();
  s.create('user', { displayName: 'A', userPrincipalName: 'a@contoso.com' }, { id: U1 });
  s.update(U1, { displayName: 'A' });
  assert.equal(logOf(s, 'user').at(-1), { id: U1, kind: 'upsert', props: [] });
});

Update('update(id, {userPrincipalName}) rejects one held by another user, and a missing object', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  user(s, U2, 'b@contoso.com');
  throwsStore(() => s.update(U2, { userPrincipalName: 'A@contoso.com' }), 'conflict');
  assert.is(s.get(U2)?.data.userPrincipalName, 'b@contoso.com');
  throwsStore(() => s.update(G1, { displayName: 'x' }), 'notFound');
});

Update.run();

// ---

const Delete = suite('DirectoryStore.softDelete/restore/hardDelete');

Delete('softDelete(id) stamps deletedAt, logs reason "changed", and keeps the links', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  s.addLink(G1, 'members', U1);
  const o = s.softDelete(U1);
  assert.is(o.deletedAt, '2025-01-01T00:00:00.000Z');
  assert.equal(logOf(s, 'user').at(-1), { id: U1, kind: 'delete', reason: 'changed' });
  assert.ok(s.get(G1)!.links!.members!.has(U1));
  assert.equal([...s.linked(s.get(G1)!, 'members')], [], 'soft-deleted members are hidden');
});

Delete('restore(id) brings the object back with its links and logs a whole-object upsert', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  s.addLink(G1, 'members', U1);
  s.softDelete(U1);
  s.restore(U1);
  assert.is(s.get(U1)?.deletedAt, undefined);
  assert.equal(logOf(s, 'user').at(-1), { id: U1, kind: 'upsert', props: null });
  assert.equal(
    [...s.linked(s.get(G1)!, 'members')].map((o) => o.id),
    [U1],
  );
  throwsStore(() => s.restore(U1), 'notFound');
});

Delete(
  'hardDelete(id) removes the object and every link to it, logging reason "deleted" and link removals',
  () => {
    const s = store();
    user(s, U1, 'a@contoso.com');
    s.create('group', { displayName: 'g1' }, { id: G1 });
    s.create('group', { displayName: 'g2' }, { id: G2 });
    s.create('directoryRole', { displayName: 'r' }, { id: R1 });
    s.addLink(G1, 'members', U1);
    s.addLink(G2, 'owners', U1);
    s.addLink(R1, 'members', U1);
    s.hardDelete(U1);
    assert.is(s.get(U1, { includeDeleted: true }), undefined);
    assert.is(s.userByPrincipalName('a@contoso.com'), undefined);
    assert.equal(logOf(s, 'user').at(-1), { id: U1, kind: 'delete', reason: 'deleted' });
    assert.equal(logOf(s, 'group').slice(-2), [
      { id: G1, kind: 'link', nav: 'members', target: U1, removed: true },
      { id: G2, kind: 'link', nav: 'owners', target: U1, removed: true },
    ]);
    assert.equal(logOf(s, 'directoryRole').at(-1), {
      id: R1,
      kind: 'link',
      nav: 'members',
      target: U1,
      removed: true,
    });
    assert.is(s.get(G1)!.links!.members!.size, 0);
    // The UPN is free again.
    user(s, U2, 'a@contoso.com');
  },
);

Delete('hardDelete(id) also purges a soft-deleted object; an unknown id is notFound', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.softDelete(U1);
  s.hardDelete(U1);
  assert.is(s.get(U1, { includeDeleted: true }), undefined);
  throwsStore(() => s.hardDelete(U1), 'notFound');
});

Delete.run();

// ---

const Links = suite('DirectoryStore.addLink/removeLink');

Links('addLink(owner, nav, target) answers false for an existing link and logs only new ones', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  const before = s.seq;
  assert.is(s.addLink(G1, 'members', U1.toUpperCase()), true);
  assert.is(s.addLink(G1, 'members', U1), false);
  assert.is(s.seq, before + 1);
  assert.equal(logOf(s, 'group').at(-1), {
    id: G1,
    kind: 'link',
    nav: 'members',
    target: U1,
    removed: false,
  });
});

Links('addLink(...) needs a live target and a navigation the owner has', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  throwsStore(() => s.addLink(G1, 'members', U2), 'notFound');
  throwsStore(() => s.addLink(G1, 'manager', U1), 'invalid');
  throwsStore(() => s.addLink(U1, 'members', G1), 'invalid');
  s.softDelete(U1);
  throwsStore(() => s.addLink(G1, 'members', U1), 'notFound');
});

Links('removeLink(owner, nav, target) answers false when there was no link, and logs a removal', () => {
  const s = store();
  user(s, U1, 'a@contoso.com');
  s.create('group', { displayName: 'g' }, { id: G1 });
  s.addLink(G1, 'owners', U1);
  assert.is(s.removeLink(G1, 'members', U1), false);
  assert.is(s.removeLink(G1, 'owners', U1.toUpperCase()), true);
  assert.equal(logOf(s, 'group').at(-1), { id: G1, kind: 'link', nav: 'owners', target: U1, removed: true });
});

Links.run();

// ---

const Log = suite('EntityStore.logPositionAfter');

Log('logPositionAfter(seq) finds the first entry after a sequence number across interleaved entities', () => {
  const s = store();
  user(s, U1, 'a@contoso.com'); // seq 1
  s.create('group', { displayName: 'g' }, { id: G1 }); // seq 2
  user(s, U2, 'b@contoso.com'); // seq 3
  s.update(U1, { jobTitle: 'x' }); // seq 4
  const es = s.entityStore('user');
  assert.equal(
    es.log.map((e) => e.seq),
    [1, 3, 4],
  );
  assert.is(es.logPositionAfter(0), 0);
  assert.is(es.logPositionAfter(1), 1);
  assert.is(es.logPositionAfter(2), 1);
  assert.is(es.logPositionAfter(3), 2);
  assert.is(es.logPositionAfter(4), 3);
  assert.equal(
    [...es.live()].map((o) => o.id),
    [U1, U2],
  );
});

Log.run();
