import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generateTenant, guidFrom, ROLE_TEMPLATES } from '../../src/emulator/generate.js';
import { seededRandom } from '../../src/emulator/faults.js';
import { DirectoryStore } from '../../src/emulator/store.js';
import { call, deltaRound, withEmulator } from '../helpers/emulator.js';

function generated(users: number, groups: number, seed = 1, clientId?: string): DirectoryStore {
  const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.onmicrosoft.com'] });
  generateTenant(store, { users, groups, seed, ...(clientId ? { clientId } : {}) });
  return store;
}

/** Everything about a store that a client could see: objects and links, in order. */
function snapshot(store: DirectoryStore): string {
  const out: unknown[] = [];
  for (const entity of ['user', 'group', 'servicePrincipal', 'directoryRole'] as const)
    for (const o of store.entityStore(entity).live())
      out.push([o.id, o.data, Object.entries(o.links ?? {}).map(([nav, set]) => [nav, [...(set ?? [])]])]);
  return JSON.stringify(out);
}

const Guid = suite('guidFrom');

Guid('guidFrom(random) makes version-4 shaped GUIDs, the same ones for the same seed', () => {
  const a = seededRandom(5);
  const b = seededRandom(5);
  for (let i = 0; i < 50; i++) {
    const g = guidFrom(a);
    assert.match(g, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.is(guidFrom(b), g);
  }
});

Guid.run();

// ---

const Generate = suite('generateTenant');

Generate(
  'generateTenant(store, {users, groups, seed}) is deterministic for a seed and differs across seeds',
  () => {
    const a = snapshot(generated(1500, 40, 9));
    assert.is(snapshot(generated(1500, 40, 9)), a);
    assert.is.not(snapshot(generated(1500, 40, 10)), a);
  },
);

Generate(
  'generateTenant(...) makes N users, M groups, the built-in roles and service principals, outside the change log',
  () => {
    const clientId = '0e0e0e0e-1111-4222-8333-444444444444';
    const s = generated(2000, 30, 1, clientId);
    assert.is(s.count('user'), 2000);
    assert.is(s.count('group'), 30);
    assert.is(s.count('directoryRole'), ROLE_TEMPLATES.length);
    const sps = [...s.entityStore('servicePrincipal').live()];
    assert.is(sps.length, 2 + 1 + 2); // Graph, Exchange, the connector, one per 1,000 users
    assert.ok(sps.some((sp) => sp.data.appId === clientId));
    assert.is(s.seq, 0);
    for (const e of ['user', 'group', 'directoryRole', 'servicePrincipal'] as const)
      assert.is(s.entityStore(e).log.length, 0);
  },
);

Generate('generateTenant(...) makes a few very large groups and a long tail of small ones', () => {
  const s = generated(4000, 60);
  const sizes = [...s.entityStore('group').live()].map((g) => g.links!.members!.size);
  assert.is(sizes[0], 400, 'the largest holds a tenth of all users');
  assert.ok(sizes[1]! >= 190 && sizes[2]! >= 90);
  const tail = sizes.slice(3);
  assert.ok(Math.max(...tail) < 100, String(Math.max(...tail)));
  assert.ok(tail.filter((n) => n > 0).length > tail.length / 2, 'most groups have members');
  const memberships = sizes.reduce((a, b) => a + b, 0);
  assert.ok(memberships > 2000, `${memberships} memberships`);
});

Generate(
  'generateTenant(...) makes valid objects: unique UPNs on a tenant domain, guests, links to live objects, M365 groups with users only',
  () => {
    const s = generated(3000, 80, 4);
    const upns = new Set<string>();
    let guests = 0;
    for (const u of s.entityStore('user').live()) {
      const upn = String(u.data.userPrincipalName);
      assert.ok(upn.endsWith('@contoso.onmicrosoft.com'), upn);
      assert.not.ok(upns.has(upn.toLowerCase()));
      upns.add(upn.toLowerCase());
      if (u.data.userType === 'Guest') {
        guests++;
        assert.match(upn, /#EXT#@/);
      }
      assert.type(u.data.displayName, 'string');
      assert.type(u.data.accountEnabled, 'boolean');
    }
    assert.ok(guests > 30 && guests < 200, `${guests} guests`);
    let nested = 0;
    for (const g of s.entityStore('group').live()) {
      const unified = (g.data.groupTypes as string[]).includes('Unified');
      assert.is(g.data.mailEnabled, unified);
      assert.is(g.data.securityEnabled, !unified);
      for (const id of g.links!.members!) {
        const member = s.get(id);
        assert.ok(member, id);
        if (unified) assert.is(member.entity, 'user');
        if (member.entity === 'group') nested++;
      }
      for (const id of g.links!.owners!) assert.is(s.get(id)?.entity, 'user');
    }
    assert.ok(nested >= 1, 'some nested groups');
    for (const r of s.entityStore('directoryRole').live()) assert.ok(r.links!.members!.size >= 1);
  },
);

Generate('startEmulator({generate}) serves the generated tenant through delta', async () => {
  await withEmulator(
    { generate: { users: 300, groups: 20, seed: 2 }, deltaLimits: { objects: 100 } },
    async (emu) => {
      const { items, pages } = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
      assert.is(items.length, 300);
      assert.is(pages, 3);
      const count = await call(emu, 'GET', '/v1.0/groups/$count', {
        headers: { ConsistencyLevel: 'eventual' },
      });
      assert.is(count.text, '20');
    },
  );
});

Generate(
  'generateTenant(...) gives most users a manager who comes before them, and licences within the seats',
  () => {
    const s = generated(2000, 10, 3);
    const users = [...s.entityStore('user').live()];
    const managed = users.filter((u) => u.links?.manager?.size);
    assert.ok(managed.length > 1400 && managed.length < 1800, String(managed.length));
    for (const u of managed) assert.ok(s.get([...u.links!.manager!][0]!)!.slot < u.slot);
    for (const sku of s.skus) {
      const used = users.filter((u) =>
        (u.data.assignedLicenses as any[] | undefined)?.some((l) => l.skuId === sku.skuId),
      ).length;
      assert.ok(used > 0 && used <= sku.enabled, `${sku.skuPartNumber}: ${used} of ${sku.enabled}`);
    }
    assert.ok(
      users.filter((u) => u.data.userType === 'Guest').every((u) => u.data.assignedLicenses === undefined),
    );
  },
);

Generate.run();
