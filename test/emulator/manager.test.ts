import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, deltaRound, graphErrorOf, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const GRADY = '297ceaa5-7b75-540f-b2e9-cf82a2590cd6';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const USER = '#microsoft.graph.user';

/** The sample tenant without its reporting lines: each test sets the ones it reads. */
async function sample(fn: (emu: Emulator) => Promise<void>) {
  const tenant = await sampleTenant();
  for (const user of tenant.users ?? []) delete user.manager;
  await withEmulator({ tenant }, fn);
}

const ref = (emu: Emulator, id: string) => ({ '@odata.id': `${emu.graphUrl}users/${id}` });

const Manager = suite('handleManager');

Manager('PUT /users/{id}/manager/$ref sets the manager; GET manager and manager/$ref read it', async () => {
  await sample(async (emu) => {
    assert.equal(graphErrorOf(await call(emu, 'GET', `/v1.0/users/${ADELE}/manager`)), {
      status: 404,
      code: 'Request_ResourceNotFound',
      message:
        "Resource 'manager' does not exist or one of its queried reference-property objects are not present.",
    });
    const put = await call(emu, 'PUT', `/v1.0/users/${ADELE}/manager/$ref`, { body: ref(emu, ALEX) });
    assert.is(put.status, 204, put.text);
    const m = await call(emu, 'GET', `/v1.0/users/${ADELE}/manager`);
    assert.is(m.json['@odata.type'], USER);
    assert.is(m.json.id, ALEX);
    assert.is(m.json.displayName, 'Alex Wilber');
    const r = await call(emu, 'GET', `/v1.0/users/${ADELE}/manager/$ref`);
    assert.match(
      r.json['@odata.id'],
      new RegExp(`/directoryObjects/${ALEX}/Microsoft.DirectoryServices.User$`),
    );
    const expanded = await call(emu, 'GET', `/v1.0/users/${ADELE}?$expand=manager($select=id,displayName)`);
    assert.equal(expanded.json.manager, { '@odata.type': USER, id: ALEX, displayName: 'Alex Wilber' });
  });
});

Manager(
  'DELETE /users/{id}/manager/$ref removes it; again 404; a group or oneself cannot manage',
  async () => {
    await sample(async (emu) => {
      emu.tenant.setManager(ADELE, ALEX);
      assert.is((await call(emu, 'DELETE', `/v1.0/users/${ADELE}/manager/$ref`)).status, 204);
      assert.is((await call(emu, 'DELETE', `/v1.0/users/${ADELE}/manager/$ref`)).status, 404);
      const group = await call(emu, 'PUT', `/v1.0/users/${ADELE}/manager/$ref`, {
        body: { '@odata.id': `${emu.graphUrl}groups/${ENGINEERING}` },
      });
      assert.is(group.status, 400);
      assert.is(
        (await call(emu, 'PUT', `/v1.0/users/${ADELE}/manager/$ref`, { body: ref(emu, ADELE) })).status,
        400,
      );
      const missing = '00000000-0000-0000-0000-00000000000b';
      assert.is(
        (await call(emu, 'PUT', `/v1.0/users/${ADELE}/manager/$ref`, { body: ref(emu, missing) })).status,
        404,
      );
    });
  },
);

Manager('GET /users/{id}/directReports lists the users it manages, and counts them', async () => {
  await sample(async (emu) => {
    emu.tenant.setManager(ADELE, DIEGO);
    emu.tenant.setManager(GRADY, DIEGO);
    const r = await call(emu, 'GET', `/v1.0/users/${DIEGO}/directReports?$select=displayName`);
    assert.is(r.status, 200, r.text);
    assert.equal(r.json.value.map((u: any) => u.displayName).sort(), ['Adele Vance', 'Grady Archie']);
    const count = await call(emu, 'GET', `/v1.0/users/${DIEGO}/directReports/$count`, {
      headers: { ConsistencyLevel: 'eventual' },
    });
    assert.is(count.text, '2');
  });
});

Manager.run();

// ---

const Delta = suite('handleDelta(users) manager');

Delta(
  'users/delta?$select=manager: manager@delta in the initial round, then changes and removals',
  async () => {
    await sample(async (emu) => {
      emu.tenant.setManager(ADELE, ALEX);
      const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName,manager');
      const adele = first.items.find((u) => u.id === ADELE);
      assert.equal(adele['manager@delta'], [{ '@odata.type': USER, id: ALEX }]);
      assert.is(first.items.find((u) => u.id === GRADY)['manager@delta'], undefined);

      emu.tenant.setManager(ADELE, DIEGO);
      emu.tenant.setManager(GRADY, DIEGO);
      const second = await deltaRound(emu, first.deltaLink);
      const changed = second.items.find((u) => u.id === ADELE);
      assert.equal(changed['manager@delta'], [
        { '@odata.type': USER, id: ALEX, '@removed': { reason: 'deleted' } },
        { '@odata.type': USER, id: DIEGO },
      ]);
      assert.equal(second.items.find((u) => u.id === GRADY)['manager@delta'], [
        { '@odata.type': USER, id: DIEGO },
      ]);

      emu.tenant.removeManager(GRADY);
      emu.tenant.purge(DIEGO);
      const third = await deltaRound(emu, second.deltaLink);
      assert.equal(third.items.find((u) => u.id === GRADY)['manager@delta'], [
        { '@odata.type': USER, id: DIEGO, '@removed': { reason: 'deleted' } },
      ]);
      assert.equal(third.items.find((u) => u.id === ADELE)['manager@delta'], [
        { '@odata.type': USER, id: DIEGO, '@removed': { reason: 'deleted' } },
      ]);
    });
  },
);

Delta('a manager change is not tracked by a round that did not select manager', async () => {
  await sample(async (emu) => {
    const first = await deltaRound(emu, '/v1.0/users/delta?$select=displayName');
    emu.tenant.setManager(ADELE, ALEX);
    const second = await deltaRound(emu, first.deltaLink);
    assert.equal(second.items, []);
  });
});

Delta.run();
