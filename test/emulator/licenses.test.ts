import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { call, graphErrorOf, sampleTenant, withEmulator } from '../helpers/emulator.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const E3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';
const P1 = '078d2b04-f1bd-4111-bbd4-b4b1b354cef4';

async function sample(fn: (emu: Emulator) => Promise<void>) {
  await withEmulator({ tenant: await sampleTenant() }, fn);
}

const assign = (emu: Emulator, id: string, addLicenses: unknown[], removeLicenses: string[] = []) =>
  call(emu, 'POST', `/v1.0/users/${id}/assignLicense`, { body: { addLicenses, removeLicenses } });

const Skus = suite('handleSubscribedSkus');

Skus('GET /subscribedSkus lists the tenant SKUs with prepaidUnits and consumedUnits', async () => {
  await sample(async (emu) => {
    const r = await call(emu, 'GET', '/v1.0/subscribedSkus');
    assert.is(r.status, 200, r.text);
    const e3 = r.json.value.find((s: any) => s.skuId === E3);
    assert.is(e3.skuPartNumber, 'ENTERPRISEPACK');
    assert.equal(e3.prepaidUnits, { enabled: 25, lockedOut: 0, suspended: 0, warning: 0 });
    assert.is(e3.consumedUnits, 0);
    assert.is(e3.id, `${emu.tenantId}_${E3}`);
    await assign(emu, ADELE, [{ skuId: E3, disabledPlans: [] }]);
    const one = await call(emu, 'GET', `/v1.0/subscribedSkus/${emu.tenantId}_${E3}`);
    assert.is(one.json.consumedUnits, 1);
  });
});

Skus.run();

// ---

const Assign = suite('handleAssignLicense');

Assign('POST /users/{id}/assignLicense adds and removes licences; plans and states follow', async () => {
  await sample(async (emu) => {
    const r = await assign(emu, ADELE, [
      { skuId: E3, disabledPlans: [] },
      { skuId: P1, disabledPlans: [] },
    ]);
    assert.is(r.status, 200, r.text);
    assert.is(r.json.id, ADELE);
    const u = await call(
      emu,
      'GET',
      `/v1.0/users/${ADELE}?$select=assignedLicenses,assignedPlans,licenseAssignmentStates`,
    );
    assert.equal(u.json.assignedLicenses.map((l: any) => l.skuId).sort(), [E3, P1].sort());
    assert.is(u.json.assignedPlans.length, 3);
    assert.equal(
      u.json.licenseAssignmentStates.map((s: any) => s.state),
      ['Active', 'Active'],
    );
    await assign(emu, ADELE, [], [P1]);
    const after = await call(emu, 'GET', `/v1.0/users/${ADELE}?$select=assignedLicenses`);
    assert.equal(after.json.assignedLicenses, [{ skuId: E3, disabledPlans: [] }]);
  });
});

Assign(
  'assignLicense refuses a user without usageLocation, an unknown SKU, and a SKU with no seats left',
  async () => {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const nowhere = emu.tenant.createUser({ usageLocation: null });
      assert.equal(graphErrorOf(await assign(emu, nowhere.id, [{ skuId: E3, disabledPlans: [] }])), {
        status: 400,
        code: 'Request_BadRequest',
        message: 'License assignment cannot be done for user with invalid usage location.',
      });
      const unknown = '11111111-2222-3333-4444-555555555555';
      assert.match(
        graphErrorOf(await assign(emu, ADELE, [{ skuId: unknown, disabledPlans: [] }])).message,
        /does not correspond to a valid company License/,
      );
      for (let i = 0; i < 10; i++) {
        const u = emu.tenant.createUser({ usageLocation: 'US' });
        assert.is((await assign(emu, u.id, [{ skuId: P1, disabledPlans: [] }])).status, 200);
      }
      const last = emu.tenant.createUser({ usageLocation: 'US' });
      assert.equal(graphErrorOf(await assign(emu, last.id, [{ skuId: P1, disabledPlans: [] }])), {
        status: 400,
        code: 'Request_BadRequest',
        message: `Subscription with SKU ${P1} does not have any available licenses.`,
      });
    });
  },
);

Assign(
  'a licence change shows in users/delta with assignedLicenses selected; licenseAssignmentStates is not tracked',
  async () => {
    await sample(async (emu) => {
      const first = await call(
        emu,
        'GET',
        '/v1.0/users/delta?$select=assignedLicenses,licenseAssignmentStates&$deltatoken=latest',
      );
      await assign(emu, ADELE, [{ skuId: E3, disabledPlans: [] }]);
      const second = await call(emu, 'GET', first.json['@odata.deltaLink']);
      assert.equal(
        second.json.value.map((u: any) => u.id),
        [ADELE],
      );
      assert.equal(second.json.value[0].assignedLicenses, [{ skuId: E3, disabledPlans: [] }]);
      const only = await call(
        emu,
        'GET',
        '/v1.0/users/delta?$select=licenseAssignmentStates&$deltatoken=latest',
      );
      await assign(emu, ADELE, [{ skuId: P1, disabledPlans: [] }]);
      const none = await call(emu, 'GET', only.json['@odata.deltaLink']);
      assert.equal(none.json.value, []);
    });
  },
);

Assign.run();
