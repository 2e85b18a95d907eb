import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { skusCommand } from '../../src/commands/skus.js';
import { call, sampleTenant } from '../helpers/emulator.js';
import { exportCsv, withWork } from '../helpers/fulfill-harness.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const E3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';
const P1 = '078d2b04-f1bd-4111-bbd4-b4b1b354cef4';

async function skus(dir: string, format?: 'csv' | 'ndjson'): Promise<{ code: number; text: string }> {
  const out = new PassThrough();
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString('utf8')));
  const code = await skusCommand(
    {
      settings: join(dir, 'appsettings.agent.json'),
      ca: join(dir, 'ca.pem'),
      quiet: true,
      ...(format ? { format } : {}),
    },
    {},
    out,
  );
  return { code, text };
}

const Skus = suite('skusCommand');

Skus('skusCommand() lists skuId, skuPartNumber and seats as CSV or NDJSON', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    await call(emu, 'POST', `/v1.0/users/${ADELE}/assignLicense`, {
      body: { addLicenses: [{ skuId: P1, disabledPlans: [] }], removeLicenses: [] },
    });
    const csv = await skus(dir);
    assert.is(csv.code, 0);
    assert.is(
      csv.text,
      [
        'skuId,skuPartNumber,enabled,consumedUnits,capabilityStatus',
        `${E3},ENTERPRISEPACK,25,0,Enabled`,
        `${P1},AAD_PREMIUM,10,1,Enabled`,
        '',
      ].join('\n'),
    );
    const ndjson = await skus(dir, 'ndjson');
    assert.equal(JSON.parse(ndjson.text.split('\n')[1]!), {
      skuId: P1,
      skuPartNumber: 'AAD_PREMIUM',
      enabled: 10,
      consumedUnits: 1,
      capabilityStatus: 'Enabled',
    });
  }),
);

Skus(
  'export of assignedLicenses and licenseAssignmentStates: JSON cells, and the change in the next round',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const select = ['user=assignedLicenses,licenseAssignmentStates'];
      const first = await exportCsv(dir, select);
      const adele = () => first.directoryobjects!.find((r) => r.id === ADELE)!;
      assert.is(adele().assignedLicenses, '', 'none yet: an empty cell');
      await call(emu, 'POST', `/v1.0/users/${ADELE}/assignLicense`, {
        body: { addLicenses: [{ skuId: E3, disabledPlans: [] }], removeLicenses: [] },
      });
      const next = await exportCsv(dir, select);
      assert.equal(
        next.directoryobjects!.map((r) => [r.Command, r.id, r.assignedLicenses]),
        [['update', ADELE, `[{"skuId":"${E3}","disabledPlans":[]}]`]],
      );
      const states = JSON.parse(next.directoryobjects![0]!.licenseAssignmentStates!) as Record<
        string,
        unknown
      >[];
      assert.equal(
        states.map((s) => [s.skuId, s.state, s.assignedByGroup]),
        [[E3, 'Active', null]],
      );
    }),
);

Skus.run();
