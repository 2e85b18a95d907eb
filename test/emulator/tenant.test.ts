import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { DirectoryStore } from '../../src/emulator/store.js';
import { loadTenant, readTenantFile, TenantApi, type TenantData } from '../../src/emulator/tenant.js';
import { call, deltaRound, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const FORMER = '3c0d1e6f-8a2b-4c5d-9e7f-0a1b2c3d4e5f';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';

async function api(data?: TenantData): Promise<TenantApi> {
  const tenant = data ?? (await sampleTenant());
  const store = new DirectoryStore({ tenantId: tenant.tenantId!, domains: tenant.domains! });
  loadTenant(store, tenant);
  return new TenantApi(store);
}

const Read = suite('readTenantFile');

Read('readTenantFile(path) reads the sample tenant', async () => {
  const t = await sampleTenant();
  assert.is(t.tenantId, 'a7f3c9e2-5b1d-4e8a-9c6f-2d4b8e1a3f57');
  assert.is(t.users?.length, 15);
  assert.is(t.groups?.length, 7);
});

Read('readTenantFile(path) accepts a byte-order mark and names the file when the JSON is bad', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tenant-'));
  try {
    writeFileSync(join(dir, 'bom.json'), '\uFEFF{"users":[]}');
    assert.equal(await readTenantFile(join(dir, 'bom.json')), { users: [] });
    writeFileSync(join(dir, 'bad.json'), '{"users":[');
    try {
      await readTenantFile(join(dir, 'bad.json'));
      assert.unreachable('should throw');
    } catch (e) {
      assert.match((e as Error).message, /bad\.json is not valid JSON/);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Read.run();

// ---

const Load = suite('loadTenant');

Load('loadTenant(store, data) loads objects and links without change-log entries', async () => {
  const t = await api();
  assert.is(t.list('user').length, 14, 'one of the 15 users is in deleted items');
  assert.is(t.list('group').length, 7);
  assert.is(t.list('servicePrincipal').length, 3);
  assert.is(t.list('directoryRole').length, 2);
  assert.is(t.store.seq, 0);
  assert.is(t.links(SALES, 'owners').length, 2);
  assert.ok(t.links(SALES, 'members').includes(ADELE));
  assert.is(t.links(ENGINEERING, 'members').length, 4);
});

Load('loadTenant(store, data) puts an object with deletedDateTime in deleted items', async () => {
  const t = await api();
  assert.is(t.get(FORMER), undefined);
  assert.is(t.get(FORMER, { includeDeleted: true })?.deletedAt, '2026-11-01T10:00:00Z');
});

Load('loadTenant(store, data) reads contacts and devices too', async () => {
  const t = await api({
    tenantId: 't',
    domains: ['contoso.com'],
    contacts: [{ id: '00000000-0000-4000-8000-0000000000c1', displayName: 'Contact' }],
    devices: [{ id: '00000000-0000-4000-8000-0000000000d1', displayName: 'Laptop' }],
    groups: [
      {
        id: '00000000-0000-4000-8000-0000000000a1',
        displayName: 'g',
        members: ['00000000-0000-4000-8000-0000000000c1', '00000000-0000-4000-8000-0000000000d1'],
      },
    ],
  });
  assert.is(t.list('orgContact').length, 1);
  assert.is(t.list('device').length, 1);
  assert.is(t.links('00000000-0000-4000-8000-0000000000a1', 'members').length, 2);
});

Load('loadTenant(store, data) throws on a link to an unknown object, naming it', async () => {
  const data: TenantData = {
    groups: [{ id: '00000000-0000-4000-8000-0000000000a1', displayName: 'g', members: ['nope'] }],
  };
  const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.com'] });
  assert.throws(() => loadTenant(store, data), /links members to unknown object nope/);
});

Load.run();

// ---

const Api = suite('TenantApi');

Api('createUser(props) and createGroup(props) fill in defaults and log the creation', async () => {
  const t = await api();
  const u = t.createUser({ displayName: 'New Person' });
  assert.is(u.data.displayName, 'New Person');
  assert.match(String(u.data.userPrincipalName), /^newuser\d+@contoso\.onmicrosoft\.com$/);
  const g = t.createGroup();
  assert.is(g.data.groupTypes, undefined, 'no empty collections are kept');
  assert.is(g.data.securityEnabled, true);
  assert.is(t.store.seq, 2);
  assert.is(t.domain, 'contoso.onmicrosoft.com');
  assert.is(t.tenantId, 'a7f3c9e2-5b1d-4e8a-9c6f-2d4b8e1a3f57');
});

Api(
  'delete(id) soft-deletes users and groups of both kinds (group-delete.md); purge() deletes for good',
  async () => {
    const t = await api();
    t.delete(ADELE);
    t.delete(SALES);
    t.delete(ENGINEERING);
    assert.ok(t.get(ADELE, { includeDeleted: true })?.deletedAt);
    assert.ok(t.get(SALES, { includeDeleted: true })?.deletedAt);
    assert.ok(t.get(ENGINEERING, { includeDeleted: true })?.deletedAt);
    t.restore(ADELE);
    assert.ok(t.get(ADELE));
    t.purge(SALES);
    assert.is(t.get(SALES, { includeDeleted: true }), undefined);
  },
);

Api(
  'addMember/removeMember/addOwner/removeOwner change links and answer whether anything changed',
  async () => {
    const t = await api();
    const u = t.createUser();
    assert.is(t.addMember(ENGINEERING, u.id), true);
    assert.is(t.addMember(ENGINEERING, u.id), false);
    assert.ok(t.links(ENGINEERING, 'members').includes(u.id));
    assert.is(t.removeMember(ENGINEERING, u.id), true);
    assert.is(t.removeMember(ENGINEERING, u.id), false);
    assert.is(t.addOwner(ENGINEERING, u.id), true);
    assert.ok(t.links(ENGINEERING, 'owners').includes(u.id));
    assert.is(t.removeOwner(ENGINEERING, u.id), true);
    assert.equal(t.links('00000000-0000-4000-8000-000000000000', 'members'), []);
  },
);

Api('update(id, patch) between two delta rounds shows up in the second round', async () => {
  await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName,jobTitle');
    emu.tenant.update(ADELE, { jobTitle: 'Chief Retail Officer' });
    const u = emu.tenant.createUser({ displayName: 'Brand New' });
    emu.tenant.delete('61e819da-5315-53df-9f8a-120348247c6b');
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(
      second.items.map((i) => i.id),
      [ADELE, u.id, '61e819da-5315-53df-9f8a-120348247c6b'],
    );
    assert.is(second.items[0].jobTitle, 'Chief Retail Officer');
    assert.equal(second.items[2]['@removed'], { reason: 'changed' });
  });
});

Api('resetSync() makes every delta token in use answer 410 Gone', async () => {
  await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
    const first = await deltaRound(emu, '/v1.0/groups/delta');
    emu.tenant.resetSync();
    const r = await call(emu, 'GET', first.deltaLink);
    assert.is(r.status, 410);
  });
});

Api.run();
