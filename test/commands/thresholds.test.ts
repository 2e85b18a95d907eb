import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { checkDeletes, parseMaxDeletes, resolveThreshold } from '../../src/settings/thresholds.js';
import { sampleTenant } from '../helpers/emulator.js';
import { runEntra } from '../helpers/cli.js';
import { withHarness } from '../helpers/export-harness.js';
import { csvFiles, fulfill, snapshot, withWork } from '../helpers/fulfill-harness.js';

// Objects of samples/tenant.json.
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const GRADY = '297ceaa5-7b75-540f-b2e9-cf82a2590cd6';
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SMALL_SELECT = { select: ['user=displayName,mail', 'group=displayName,members,owners'] };

const Parse = suite('thresholds: --max-deletes values');

Parse('parseMaxDeletes(text) takes a count, a percentage or off, and nothing else', () => {
  assert.equal(parseMaxDeletes('500'), { count: 500 });
  assert.equal(parseMaxDeletes(' 0 '), { count: 0 });
  assert.equal(parseMaxDeletes('2.5%'), { percent: 2.5 });
  assert.equal(parseMaxDeletes('OFF'), null);
  for (const bad of ['', '-1', '1.5', '101%', 'ten', '5 %%', '1e3'])
    assert.throws(() => parseMaxDeletes(bad), /expected a number of delete rows/, bad);
});

Parse('resolveThreshold: the flag over the setting over the default 500; --force passes once', () => {
  const setting = { key: 'Connections:Contoso:ExportMaxDeletes', value: '20' };
  assert.equal(resolveThreshold({}), { limit: { count: 500 }, source: 'default', forced: false });
  assert.equal(resolveThreshold({ setting }).limit, { count: 20 });
  assert.equal(resolveThreshold({ setting }).source, 'Connections:Contoso:ExportMaxDeletes');
  assert.equal(resolveThreshold({ flag: '3%', setting }).limit, { percent: 3 });
  assert.equal(resolveThreshold({ flag: 'off', setting }).limit, null);
  assert.equal(resolveThreshold({ setting, force: true }), {
    limit: null,
    source: 'Connections:Contoso:ExportMaxDeletes',
    forced: true,
  });
  assert.throws(
    () => resolveThreshold({ flag: 'lots' }),
    (e: Error & { code: string }) => e.code === 'ERR_USAGE',
  );
  assert.throws(
    () => resolveThreshold({ setting: { key: 'K', value: 'x' } }),
    (e: Error & { code: string }) => e.code === 'ERR_SETTINGS',
  );
});

Parse('checkDeletes: at the limit passes, one over stops; a percentage rounds its allowance down', () => {
  const t = (flag: string) => resolveThreshold({ flag });
  assert.is(checkDeletes(t('3'), { a: 2, b: 1 }, undefined).exceeded, false);
  assert.is(checkDeletes(t('3'), { a: 2, b: 2 }, undefined).exceeded, true);
  assert.is(checkDeletes(t('10%'), { a: 9 }, 99).allowed, 9);
  assert.is(checkDeletes(t('10%'), { a: 10 }, 99).exceeded, true);
  assert.is(checkDeletes(t('10%'), { a: 1 }, undefined).exceeded, true, 'no base: nothing is allowed');
  assert.is(checkDeletes(t('off'), { a: 10_000 }, 1).exceeded, false);
});

Parse.run();

// ---

const Export = suite('exportCommand --max-deletes');

/** The delete rows the next round would bring, seen by an ad-hoc look that moves no state. */
async function pendingDeletes(h: Parameters<Parameters<typeof withHarness>[1]>[0]): Promise<number> {
  const look = await h.run({ ...SMALL_SELECT, output: '-', format: 'ndjson', maxDeletes: 'off' });
  assert.is(look.code, 0, look.stderr);
  return look.stdout.split('\n').filter((l) => l.includes('"Command":"delete"')).length;
}

Export(
  'just over the limit: exit 4, the counts on stderr, nothing written, cookies kept; just at it: passes',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      h.emu.tenant.delete(LEE);
      h.emu.tenant.delete(ALEX);
      h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
      const deletes = await pendingDeletes(h);
      assert.ok(deletes >= 2, `${deletes} delete rows`);

      const before = await h.snapshot();
      const over = await h.run({ ...SMALL_SELECT, maxDeletes: String(deletes - 1) });
      assert.is(over.code, 4, over.stderr);
      assert.match(
        over.stderr,
        new RegExp(
          `^entra: ERR_THRESHOLD: ${deletes} delete rows \\(directoryobjects 2(, [a-z_A-Z]+ \\d+)*\\) exceed --max-deletes ${deletes - 1}: nothing written, cookies kept`,
          'm',
        ),
      );
      assert.equal(await h.snapshot(), before, 'files and cookies byte-identical');

      const at = await h.run({ ...SMALL_SELECT, maxDeletes: String(deletes) });
      assert.is(at.code, 0, at.stderr);
      const objects = await h.read('directoryobjects');
      assert.match(objects, new RegExp(`^delete,.*${LEE}`, 'm'));
      assert.match(objects, /adele@contoso\.com/);
    }),
);

Export(
  'the settings key ExportMaxDeletes stops a scheduled run; --force passes it once, the next run keeps it',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const key = ['Connections:Contoso:ExportMaxDeletes=1'];
      assert.is((await h.run({ ...SMALL_SELECT, setting: key })).code, 0);
      h.emu.tenant.delete(LEE);
      h.emu.tenant.delete(ALEX);
      const before = await h.snapshot();
      const stopped = await h.run({ ...SMALL_SELECT, setting: key });
      assert.is(stopped.code, 4, stopped.stderr);
      assert.match(stopped.stderr, /exceed Connections:Contoso:ExportMaxDeletes 1: nothing written/);
      assert.equal(await h.snapshot(), before);

      const forced = await h.run({ ...SMALL_SELECT, setting: key, force: true });
      assert.is(forced.code, 0, forced.stderr);
      assert.match(forced.stderr, /--force: Connections:Contoso:ExportMaxDeletes not applied this once/);
      assert.match(await h.read('directoryobjects'), new RegExp(`^delete,.*${ALEX}`, 'm'));

      h.emu.tenant.delete(GRADY);
      h.emu.tenant.delete(MEGAN);
      assert.is((await h.run({ ...SMALL_SELECT, setting: key })).code, 4, 'the next run has the limit again');
    }),
);

Export('the default is 500; a bad --max-deletes or setting is a usage error before anything runs', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const first = await h.run(SMALL_SELECT);
    assert.is(first.code, 0, first.stderr);
    const requests = h.emu.requests.length;
    const bad = await h.run({ ...SMALL_SELECT, maxDeletes: '5 rows' });
    assert.is(bad.code, 2, bad.stderr);
    assert.match(
      bad.stderr,
      /^entra: ERR_USAGE: --max-deletes: expected a number of delete rows \(500\), a percentage \(2\.5%\) or off, got '5 rows'$/m,
    );
    const badKey = await h.run({ ...SMALL_SELECT, setting: ['Connections:Contoso:ExportMaxDeletes=many'] });
    assert.is(badKey.code, 2, badKey.stderr);
    assert.match(
      badKey.stderr,
      /ERR_SETTINGS: connection 'Contoso': ExportMaxDeletes \(from command line\)? ?.*must be a number of delete rows/,
    );
    assert.not.match(badKey.stderr, /many/, 'the value is not echoed');
    assert.is(h.emu.requests.length, requests, 'nothing sent');
  }),
);

Export("a percentage is of the snapshot's objects: without a snapshot any delete stops the round", async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    assert.is((await h.run(SMALL_SELECT)).code, 0);
    h.emu.tenant.delete(LEE);
    const before = await h.snapshot();
    const r = await h.run({ ...SMALL_SELECT, maxDeletes: '50%' });
    assert.is(r.code, 4, r.stderr);
    assert.match(r.stderr, /exceed --max-deletes 50% \(50% of 0 objects in the snapshot = 0\)/);
    assert.equal(await h.snapshot(), before);
  }),
);

Export(
  'with --output - the rows went out as they came: exit 4, cookies not advanced even when asked',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL_SELECT)).code, 0);
      h.emu.tenant.delete(LEE);
      const before = await h.snapshot();
      const r = await h.run({
        ...SMALL_SELECT,
        output: '-',
        format: 'ndjson',
        advanceCookies: true,
        maxDeletes: '0',
      });
      assert.is(r.code, 4, r.stderr);
      assert.match(r.stdout, /"Command":"delete"/);
      assert.match(r.stderr, /the rows went to stdout as they came; cookies not advanced/);
      assert.equal(await h.snapshot(), before);
    }),
);

Export.run();

// ---

const Fulfill = suite('fulfillCommand --max-deletes');

async function deleteFiles(dir: string) {
  return csvFiles(dir, {
    'Contoso_directoryobjects.csv': [
      'Command,@odata.type,id,jobTitle',
      `update,#microsoft.graph.user,${ADELE},Store Manager`,
      `delete,#microsoft.graph.user,${LEE},`,
      `delete,#microsoft.graph.user,${ALEX},`,
    ],
    'Contoso_members_group.csv': ['Command,groupId,id', `delete,${ENGINEERING},${GRADY}`],
  });
}

Fulfill('just over the limit: exit 4 before any request, no results file; just at it: sent', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const files = await deleteFiles(dir);
    const state = snapshot(emu);
    const requests = emu.requests.length;
    const over = await fulfill(dir, files, { maxDeletes: '2' });
    assert.is(over.error?.code, 'ERR_THRESHOLD', over.stderr);
    assert.is(over.error?.exitCode, 4);
    assert.match(
      over.error!.message,
      /^3 delete rows \(.*Contoso_directoryobjects\.csv 2, .*Contoso_members_group\.csv 1\) exceed --max-deletes 2: nothing sent/,
    );
    assert.is(snapshot(emu), state, 'the tenant is unchanged');
    assert.ok(
      emu.requests.slice(requests).every((q) => !q.path.endsWith('/$batch')),
      'no write request',
    );
    assert.equal(over.results, [], 'no results written');

    const at = await fulfill(dir, files, { maxDeletes: '3' });
    assert.is(at.code, 0, at.stderr);
    assert.is(emu.tenant.get(LEE), undefined);
  }),
);

Fulfill(
  'a percentage is of the input rows; FulfillMaxDeletes in the settings; --force passes once',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await deleteFiles(dir);
      // 3 of 4 rows are deletes: 75% passes at 75%, stops at 74%.
      const settingsFile = join(dir, 'appsettings.agent.json');
      const settings = JSON.parse(await readFile(settingsFile, 'utf8'));
      settings.Connections.Contoso.FulfillMaxDeletes = '74%';
      await writeFile(settingsFile, JSON.stringify(settings));
      const state = snapshot(emu);
      const stopped = await fulfill(dir, files);
      assert.is(stopped.error?.code, 'ERR_THRESHOLD', stopped.stderr);
      assert.match(
        stopped.error!.message,
        /exceed Connections:Contoso:FulfillMaxDeletes 74% \(74% of 4 input rows = 2\): nothing sent/,
      );
      assert.is(snapshot(emu), state);
      assert.is((await fulfill(dir, files, { maxDeletes: '75%', dryRun: true })).code, 0);
      const forced = await fulfill(dir, files, { force: true });
      assert.is(forced.code, 0, forced.stderr);
      assert.is(emu.tenant.get(ALEX), undefined);
    }),
);

Fulfill(
  '--dry-run counts the deletes too: every row planned, then exit 4 saying a real run would stop',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await deleteFiles(dir);
      const state = snapshot(emu);
      const r = await fulfill(dir, files, { maxDeletes: '1', dryRun: true });
      assert.is(r.error?.code, 'ERR_THRESHOLD', r.stderr);
      assert.match(
        r.error!.message,
        /^--dry-run: 3 delete rows .* exceed --max-deletes 1: a real run would send nothing/,
      );
      assert.match(
        r.stderr,
        /--dry-run: 3 delete rows .*: a real run would stop before sending anything \(exit 4\)/,
      );
      assert.is(r.results.length, 4, 'every row planned');
      assert.is(snapshot(emu), state);
    }),
);

Fulfill(
  'from stdin, counted ahead like a file (it is spooled): over a count or a percentage, nothing is sent',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const stdin = [
        'Command,@odata.type,id,jobTitle',
        `update,#microsoft.graph.user,${ADELE},Never Sent`,
        `delete,#microsoft.graph.user,${LEE},`,
        `delete,#microsoft.graph.user,${ALEX},`,
        `update,#microsoft.graph.user,${GRADY},Never Sent`,
        '',
      ].join('\n');
      const common = [
        'fulfill',
        '-',
        '-s',
        join(dir, 'appsettings.agent.json'),
        '--ca',
        join(dir, 'ca.pem'),
        '-q',
      ];
      for (const limit of ['1', '10%']) {
        const r = await runEntra([...common, '--max-deletes', limit], { stdin });
        assert.is(r.code, 4, r.stderr);
        assert.match(r.stderr, /^entra: ERR_THRESHOLD: 2 delete rows /m);
        assert.ok(emu.tenant.get(LEE), 'no delete sent');
        assert.ok(emu.tenant.get(ALEX));
        assert.is.not(emu.tenant.get(ADELE)?.data.jobTitle, 'Never Sent', 'no update sent');
      }
      const passed = await runEntra([...common, '--max-deletes', '2'], { stdin });
      assert.is(passed.code, 0, passed.stderr);
      assert.is(emu.tenant.get(LEE), undefined);
      assert.is(emu.tenant.get(GRADY)?.data.jobTitle, 'Never Sent');
    }),
);

Fulfill.run();
