import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResultRow } from '../../src/types.js';
import { sampleTenant } from '../helpers/emulator.js';
import { csvFiles, exportCsv, fulfill, withWork } from '../helpers/fulfill-harness.js';

// Users of samples/tenant.json, and their managers there.
const PATTI = '53aee924-b6cd-5d8a-b7a7-1ba7404c609f';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const MIRIAM = '18b43e0b-4570-5841-9622-f359232794b9'; // manages Adele and Isaiah
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ISAIAH = 'b69a0226-518a-591b-a8ad-0c16b4e1e48a';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b'; // managed by Megan
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';

const brief = (r: ResultRow) =>
  `${r.line} ${r.status}${r.httpStatus ? ` ${r.httpStatus}` : ''}${r.errorCode ? ` ${r.errorCode}` : ''}`;
const pick = (rows: Record<string, string>[] | undefined, ...columns: string[]) =>
  (rows ?? []).map((r) => columns.map((c) => r[c]).join(' ')).sort();

const Managers = suite('fulfillCommand: managers');

Managers(
  'fulfillCommand(*_manager_user.csv) sets, changes and removes managers; a replay is skipped; the export shows the changes',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const select = ['user=displayName,manager'];
      await exportCsv(dir, select);
      const files = await csvFiles(dir, {
        'Contoso_manager_user.csv': [
          'Command,userId,id',
          `insert,${PATTI},${LEE}`, // a manager where there was none
          `delete,${ADELE},${MIRIAM}`, // a change: the old link goes...
          `insert,${ADELE},${LEE}`, // ...and the new one comes
          `delete,${ISAIAH},${MIRIAM}`, // a removal
          `delete,${ALEX},${LEE}`, // a stale removal: Alex's manager is Megan, not Lee
          `insert,${ALEX},${ENGINEERING}`, // a group cannot manage
        ],
      });
      const first = await fulfill(dir, files);
      assert.is(first.code, 3, first.stderr);
      assert.equal(first.results.map(brief), [
        '2 ok 204',
        '3 ok 204',
        '4 ok 204',
        '5 ok 204',
        '6 skipped 200',
        '7 failed 400 Request_BadRequest',
      ]);
      assert.equal(
        first.results.map((r) => `${r.Command} ${r.ownerId} ${r.id}`),
        [
          `insert ${PATTI} ${LEE}`,
          `delete ${ADELE} ${MIRIAM}`,
          `insert ${ADELE} ${LEE}`,
          `delete ${ISAIAH} ${MIRIAM}`,
          `delete ${ALEX} ${LEE}`,
          `insert ${ALEX} ${ENGINEERING}`,
        ],
        'ownerId is the user, id the manager',
      );
      assert.is(first.results[4]!.message, `nothing to do: the manager of ${ALEX} is ${MEGAN}, not ${LEE}`);
      assert.match(first.results[5]!.message, "Invalid value specified for property 'manager'");
      assert.equal(emu.tenant.links(PATTI, 'manager'), [LEE]);
      assert.equal(emu.tenant.links(ADELE, 'manager'), [LEE]);
      assert.equal(emu.tenant.links(ISAIAH, 'manager'), []);
      assert.equal(emu.tenant.links(ALEX, 'manager'), [MEGAN], 'a stale row never removes another manager');

      const changes = await exportCsv(dir, select);
      assert.equal(pick(changes.manager_user, 'Command', 'userId', 'id'), [
        `delete ${ADELE} ${MIRIAM}`,
        `delete ${ISAIAH} ${MIRIAM}`,
        `insert ${PATTI} ${LEE}`,
        `insert ${ADELE} ${LEE}`,
      ]);

      const puts = emu.requests.filter((r) => r.method === 'PUT').length;
      const replay = await fulfill(dir, files);
      assert.equal(replay.results.map(brief), [
        '2 skipped 200',
        '3 skipped 200',
        '4 skipped 200',
        '5 skipped 404',
        '6 skipped 200',
        '7 failed 400 Request_BadRequest',
      ]);
      assert.is(emu.requests.filter((r) => r.method === 'PUT').length, puts + 1, 'only the failed row again');
      assert.equal(pick((await exportCsv(dir, select)).manager_user, 'Command'), [], 'nothing changed');
    }),
);

Managers('fulfillCommand(--dry-run) plans the read and says what follows it', async () =>
  withWork({ tenant: await sampleTenant() }, async (_emu, dir) => {
    const files = await csvFiles(dir, {
      'Contoso_manager_user.csv': [
        'Command,userId,id',
        `insert,${PATTI},${LEE}`,
        `delete,${ADELE},${MIRIAM}`,
      ],
    });
    const r = await fulfill(dir, files, { dryRun: true });
    assert.is(r.code, 0, r.stderr);
    assert.match(
      r.results[0]!.message,
      `GET /users/${PATTI}/manager?$select=id, then PUT /users/${PATTI}/manager/$ref`,
    );
    assert.is(
      r.results[1]!.message,
      `GET /users/${ADELE}/manager?$select=id, then DELETE /users/${ADELE}/manager/$ref if the manager is ${MIRIAM}`,
    );
  }),
);

Managers.run();
