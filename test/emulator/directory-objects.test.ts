import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, graphErrorOf, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const PAYROLL = 'bc5bf79b-9477-5aa4-938d-b3904da5359d';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const USER_ADMIN = '6f9cf744-8158-51ba-bce4-5f1e3acd79ad';
const MISSING = '00000000-0000-0000-0000-0000000000aa';

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const GetByIds = suite('handleGetByIds');

GetByIds('POST /directoryObjects/getByIds returns the objects found, typed, of the types asked', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'POST', '/v1.0/directoryObjects/getByIds', {
      body: { ids: [ADELE, ENGINEERING, MISSING] },
    });
    assert.is(r.status, 200, r.text);
    assert.match(r.json['@odata.context'], /\$metadata#directoryObjects$/);
    const byId = new Map(r.json.value.map((o: any) => [o.id, o]));
    assert.equal([...byId.keys()].sort(), [ADELE, ENGINEERING].sort());
    assert.is((byId.get(ADELE) as any)['@odata.type'], '#microsoft.graph.user');
    assert.is((byId.get(ENGINEERING) as any)['@odata.type'], '#microsoft.graph.group');
    const users = await call(emu, 'POST', '/v1.0/directoryObjects/microsoft.graph.getByIds', {
      body: { ids: [ADELE, ENGINEERING], types: ['user'] },
    });
    assert.equal(
      users.json.value.map((o: any) => o.id),
      [ADELE],
    );
  });
});

GetByIds('POST /directoryObjects/getByIds with no ids or a malformed one answers 400', async () => {
  await sample(async (emu) => {
    assert.is((await call(emu, 'POST', '/v1.0/directoryObjects/getByIds', { body: {} })).status, 400);
    const bad = await call(emu, 'POST', '/v1.0/directoryObjects/getByIds', { body: { ids: ['nope'] } });
    assert.equal(graphErrorOf(bad).message, "Invalid object identifier 'nope'.");
  });
});

GetByIds.run();

// ---

const MemberOf = suite('handleMemberOf');

MemberOf(
  'GET /users/{id}/memberOf lists the groups and directory roles the user is a direct member of',
  async () => {
    await sample(async (emu) => {
      const r = await call(emu, 'GET', `/v1.0/users/${DIEGO}/memberOf`);
      assert.is(r.status, 200, r.text);
      assert.equal(r.json.value.map((o: any) => o.id).sort(), [PAYROLL, ALL_STAFF, USER_ADMIN].sort());
      const role = r.json.value.find((o: any) => o.id === USER_ADMIN);
      assert.is(role['@odata.type'], '#microsoft.graph.directoryRole');
      const groups = await call(emu, 'GET', `/v1.0/users/${DIEGO}/memberOf/microsoft.graph.group?$top=1`);
      assert.is(groups.json.value.length, 1);
      const rest = await call(emu, 'GET', groups.json['@odata.nextLink']);
      assert.equal(
        [groups.json.value[0].id, ...rest.json.value.map((o: any) => o.id)].sort(),
        [PAYROLL, ALL_STAFF].sort(),
      );
      const count = await call(emu, 'GET', `/v1.0/users/${DIEGO}/memberOf/$count`, {
        headers: { ConsistencyLevel: 'eventual' },
      });
      assert.is(count.text, '3');
      const nested = await call(emu, 'GET', `/v1.0/groups/${ENGINEERING}/memberOf`);
      assert.equal(
        nested.json.value.map((o: any) => o.id),
        [ALL_STAFF],
      );
    });
  },
);

MemberOf.run();
