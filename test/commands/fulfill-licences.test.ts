import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResultRow } from '../../src/types.js';
import { call, sampleTenant } from '../helpers/emulator.js';
import { csvFiles, exportCsv, fulfill, withWork } from '../helpers/fulfill-harness.js';

// Users of samples/tenant.json: the first twelve have a usageLocation, the guests do not.
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const GRADY = '297ceaa5-7b75-540f-b2e9-cf82a2590cd6';
const ISAIAH = 'b69a0226-518a-591b-a8ad-0c16b4e1e48a';
const HENRIETTA = '9b59fe03-15c4-52d0-9af3-4939d500a7c6'; // a guest, no usageLocation
const RAUL = 'bb7d50ef-a4d8-5fa0-8d46-f7be25a0cca2'; // a guest, no usageLocation
const FILLERS = [
  'bba08a02-71f0-5392-b437-bb30c7ba28d2',
  '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42',
  '1c80cdf9-d490-5f8b-9b6b-7e9464e44421',
  '18b43e0b-4570-5841-9622-f359232794b9',
  '048828f7-1449-536d-b74e-f215efeebe54',
  '53aee924-b6cd-5d8a-b7a7-1ba7404c609f',
];
// The emulator's default SKUs (Microsoft's published ids): 25 seats of E3, 10 of P1.
const E3 = '6fd2c87f-b296-42f0-b197-1e91e994b900';
const P1 = '078d2b04-f1bd-4111-bbd4-b4b1b354cef4';
const EXCHANGE = 'efb87545-963c-4e0d-99df-69c6916d9eb0';

const brief = (r: ResultRow) =>
  `${r.line} ${r.status}${r.httpStatus ? ` ${r.httpStatus}` : ''}${r.errorCode ? ` ${r.errorCode}` : ''}`;

const Licences = suite('fulfillCommand: licences');

Licences(
  'fulfillCommand(assignedLicenses cells) adds and removes licences by skuId or skuPartNumber; Graph refusals fail the row; a replay is skipped; the export shows the changes',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const select = ['user=displayName,assignedLicenses,usageLocation'];
      // Diego holds both, Alex and Grady too; P1 has 10 seats: Adele and 6 more leave none for Isaiah.
      for (const [id, skus] of [
        [DIEGO, [E3, P1]],
        [ALEX, [E3, P1]],
        [GRADY, [E3, P1]],
        [ADELE, [P1]],
        ...FILLERS.map((f) => [f, [P1]] as const),
      ] as const) {
        const r = await call(emu, 'POST', `/v1.0/users/${id}/assignLicense`, {
          body: { addLicenses: skus.map((skuId) => ({ skuId, disabledPlans: [] })), removeLicenses: [] },
        });
        assert.is(r.status, 200, r.text);
      }
      await exportCsv(dir, select);
      const files = await csvFiles(dir, {
        'licences.csv': [
          'Command,@odata.type,id,assignedLicenses,usageLocation',
          // additions by skuPartNumber, with a plan disabled
          `update,#microsoft.graph.user,${ADELE},"{""add"":[{""skuPartNumber"":""ENTERPRISEPACK"",""disabledPlans"":[""${EXCHANGE}""]}]}",`,
          // the whole set: Diego keeps P1 and loses E3
          `update,#microsoft.graph.user,${DIEGO},"[""${P1}""]",`,
          // a removal only: Alex's E3 goes
          `update,#microsoft.graph.user,${ALEX},"{""remove"":[""ENTERPRISEPACK""]}",`,
          // an addition that does not mention E3 leaves it
          `update,#microsoft.graph.user,${GRADY},"{""add"":[]}",`,
          // no seats of P1 left
          `update,#microsoft.graph.user,${ISAIAH},"[""AAD_PREMIUM"",""ENTERPRISEPACK""]",`,
          // no usageLocation
          `update,#microsoft.graph.user,${HENRIETTA},"[""ENTERPRISEPACK""]",`,
          // ...set in the same row: the attributes go first
          `update,#microsoft.graph.user,${RAUL},"[""ENTERPRISEPACK""]",GB`,
          // a name the tenant does not have
          `update,#microsoft.graph.user,${ADELE},"{""add"":[""SPE_E5""]}",`,
        ],
      });
      const first = await fulfill(dir, files);
      assert.is(first.code, 3, first.stderr);
      assert.equal(first.results.map(brief), [
        '2 ok 200',
        '3 ok 200',
        '4 ok 200',
        '5 failed ERR_ROW_INVALID',
        '6 failed 400 Request_BadRequest',
        '7 failed 400 Request_BadRequest',
        '8 ok 200',
        '9 failed ERR_ROW_INVALID',
      ]);
      assert.is(first.results[0]!.message, 'licences: added ENTERPRISEPACK');
      assert.is(first.results[1]!.message, 'licences: removed ENTERPRISEPACK');
      assert.match(first.results[3]!.message, 'a change with nothing to add or remove');
      assert.is(
        first.results[4]!.message,
        `Subscription with SKU ${P1} does not have any available licenses.`,
      );
      assert.is(
        first.results[5]!.message,
        'License assignment cannot be done for user with invalid usage location.',
      );
      assert.match(first.results[7]!.message, 'unknown skuPartNumber SPE_E5');
      assert.match(first.results[7]!.message, 'ENTERPRISEPACK, AAD_PREMIUM');

      const licences = (id: string) =>
        (emu.tenant.get(id)!.data.assignedLicenses as
          { skuId: string; disabledPlans: string[] }[] | undefined) ?? [];
      const p1 = { skuId: P1, disabledPlans: [] };
      assert.equal(licences(ADELE), [p1, { skuId: E3, disabledPlans: [EXCHANGE] }]);
      assert.equal(licences(DIEGO), [p1]);
      assert.equal(licences(ALEX), [p1]);
      assert.equal(licences(GRADY), [{ skuId: E3, disabledPlans: [] }, p1], 'never removed unless named');
      assert.equal(licences(ISAIAH), [], 'a refused assignment changes nothing');
      assert.equal(licences(RAUL), [{ skuId: E3, disabledPlans: [] }]);

      const changes = await exportCsv(dir, select);
      assert.equal(
        changes
          .directoryobjects!.map((r) => `${r.Command} ${r.id} ${r.assignedLicenses} ${r.usageLocation}`)
          .sort(),
        [
          `update ${ADELE} [{"skuId":"${P1}","disabledPlans":[]},{"skuId":"${E3}","disabledPlans":["${EXCHANGE}"]}] US`,
          `update ${ALEX} [{"skuId":"${P1}","disabledPlans":[]}] US`,
          `update ${DIEGO} [{"skuId":"${P1}","disabledPlans":[]}] US`,
          `update ${RAUL} [{"skuId":"${E3}","disabledPlans":[]}] GB`,
        ].sort(),
      );

      const assigns = () => emu.requests.filter((r) => r.path.endsWith('/assignLicense')).length;
      const before = assigns();
      const replay = await fulfill(dir, files);
      assert.equal(replay.results.map(brief), [
        '2 skipped 200',
        '3 skipped 200',
        '4 skipped 200',
        '5 failed ERR_ROW_INVALID',
        '6 failed 400 Request_BadRequest',
        '7 failed 400 Request_BadRequest',
        '8 ok 200',
        '9 failed ERR_ROW_INVALID',
      ]);
      assert.match(replay.results[0]!.message, `nothing to do: the licences of ${ADELE} are already so`);
      assert.is(assigns(), before + 2, 'only the refused rows ask again');
      assert.equal(
        ((await exportCsv(dir, select)).directoryobjects ?? []).map((r) => r.id),
        [],
        'nothing changed',
      );
    }),
);

Licences('fulfillCommand(--dry-run) plans the read and says what follows it', async () =>
  withWork({ tenant: await sampleTenant() }, async (_emu, dir) => {
    const files = await csvFiles(dir, {
      'licences.csv': [
        'Command,@odata.type,id,assignedLicenses',
        `update,#microsoft.graph.user,${ADELE},"[""ENTERPRISEPACK""]"`,
      ],
    });
    const r = await fulfill(dir, files, { dryRun: true });
    assert.is(r.code, 0, r.stderr);
    assert.is(
      r.results[0]!.message,
      `GET /users/${ADELE}?$select=assignedLicenses,licenseAssignmentStates, then POST /users/${ADELE}/assignLicense with what differs from the whole set ["ENTERPRISEPACK"]`,
    );
  }),
);

Licences.run();
