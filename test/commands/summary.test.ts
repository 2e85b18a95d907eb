import { mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { withHarness, type Harness } from '../helpers/export-harness.js';
import { csvFiles, fulfill, withWork } from '../helpers/fulfill-harness.js';

// Objects of samples/tenant.json.
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const LEE = '9f830d48-a781-5bc8-9b6e-e4f3e3b2aa42';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const SMALL = { select: ['user=displayName,mail', 'group=displayName,members,owners'] };

const readJson = async (path: string): Promise<any> => JSON.parse(await readFile(path, 'utf8'));

/** The files in `dir` whose name looks like an atomic write's temp file. */
const temps = async (dir: string) => (await readdir(dir)).filter((n) => n.endsWith('.tmp'));

/** The rows of the objects and members tables, sorted (entities are read side by side). */
const sorted = async (h: Harness) =>
  [...(await h.read('directoryobjects')).split('\n'), ...(await h.read('members_group')).split('\n')]
    .sort()
    .join('\n');

const Export = suite('export --summary');

Export(
  'a scheduled run, then an incremental one: modes, rows per table and command, pages, requests, cookie ages',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const file = join(h.dir, 'summary.json');
      const first = await h.run({ ...SMALL, summary: file });
      assert.is(first.code, 0, first.stderr);
      let s = await readJson(file);
      assert.is(s.summaryVersion, 1);
      assert.is(s.command, 'export');
      assert.is(s.connection, 'Contoso');
      assert.is(s.exit, 0);
      assert.is(s.error, undefined);
      assert.ok(Date.parse(s.endedAt) >= Date.parse(s.startedAt));
      assert.ok(Number.isInteger(s.durationMs) && s.durationMs >= 0);
      assert.is(s.output, h.out);
      assert.is(s.cookies, h.cookies);
      assert.is(s.cookiesMoved, true);
      assert.equal(
        s.entities.map((e: any) => [e.entity, e.mode, e.cookieAgeDays]),
        [
          ['user', 'complete', undefined],
          ['group', 'complete', undefined],
        ],
      );
      const objects = (await h.read('directoryobjects')).trim().split('\n').length - 1;
      assert.equal(s.rows.directoryobjects, { insert: objects });
      assert.ok(s.rows.members_group.insert > 0);
      assert.is(
        s.rowsTotal,
        Object.values(s.rows as Record<string, Record<string, number>>).reduce(
          (n, c) => n + Object.values(c).reduce((m, k) => m + k, 0),
          0,
        ),
      );
      assert.ok(s.pages >= 2 && s.requests >= s.pages, `${s.pages} pages, ${s.requests} requests`);
      assert.is(s.retries, 0);
      assert.is(s.throttled, 0);
      assert.equal(s.maxDeletes, {
        limit: '500',
        source: 'default',
        forced: false,
        deletes: 0,
        byTable: { directoryobjects: 0, members_group: 0, owners_group: 0 },
        allowed: 500,
        exceeded: false,
      });
      assert.equal(s.written.map((p: string) => p.slice(h.out.length + 1)).sort(), [
        'Contoso_directoryobjects.csv',
        'Contoso_members_group.csv',
        'Contoso_owners_group.csv',
      ]);
      assert.equal(await temps(h.dir), []);

      h.emu.tenant.update(ADELE, { mail: 'adele@contoso.com' });
      const second = await h.run({ ...SMALL, summary: file });
      assert.is(second.code, 0, second.stderr);
      s = await readJson(file);
      assert.equal(
        s.entities.map((e: any) => [e.entity, e.mode, typeof e.cookieAgeDays]),
        [
          ['user', 'incremental', 'number'],
          ['group', 'incremental', 'number'],
        ],
      );
      assert.ok(s.entities.every((e: any) => e.cookieAgeDays >= 0 && e.cookieAgeDays < 0.01));
      assert.equal(s.rows.directoryobjects, { update: 1 });
    }),
);

Export(
  'a failed run writes its summary: exit 4 and ERR_THRESHOLD with the counts, nothing written, cookies kept',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      assert.is((await h.run(SMALL)).code, 0);
      h.emu.tenant.delete(LEE);
      h.emu.tenant.delete(ALEX);
      const file = join(h.dir, 'summary.json');
      const r = await h.run({ ...SMALL, maxDeletes: '1', summary: file });
      assert.is(r.code, 4, r.stderr);
      const s = await readJson(file);
      assert.is(s.exit, 4);
      assert.is(s.error.code, 'ERR_THRESHOLD');
      assert.match(s.error.message, /exceed --max-deletes 1: nothing written, cookies kept/);
      assert.is(s.cookiesMoved, false);
      assert.equal(s.written, []);
      assert.is(s.maxDeletes.limit, '1');
      assert.is(s.maxDeletes.exceeded, true);
      assert.ok(s.maxDeletes.deletes >= 2);
      assert.ok(s.rows.directoryobjects.delete >= 2, 'the rows the round made, though not written');
    }),
);

Export('a refused secret: exit 1 with the error code in the summary, and never the secret', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const file = join(h.dir, 'summary.json');
    const secret = 'Wr0ng~secret-value-never-shown';
    const r = await h.run({ summary: file, setting: [`Connections:Contoso:ApplicationKey=${secret}`] });
    assert.is(r.code, 1, r.stderr);
    const text = await readFile(file, 'utf8');
    const s = JSON.parse(text);
    assert.is(s.exit, 1);
    assert.is(s.error.code, 'ERR_AUTH');
    assert.is(s.connection, 'Contoso');
    assert.not.ok(text.includes(secret));
    assert.not.ok(text.includes(h.emu.clientSecret));
  }),
);

Export('interrupted (SIGINT): exit 130 and ERR_INTERRUPTED in the summary', async () =>
  // Small pages: after its second delta request the run still has pages to read (with whole pages the
  // round could end, and the signal fall in the commit step or after the run).
  withHarness(
    { tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS, latency: { fixedMs: 40, jitterMs: 0 } },
    async (h) => {
      const file = join(h.dir, 'summary.json');
      const deltas = (emu: Emulator) => emu.requests.filter((q) => q.path.includes('/delta')).length;
      const running = h.run({ summary: file, parallel: 1 });
      for (let i = 0; i < 1500 && deltas(h.emu) < 2; i++) await sleep(10);
      process.emit('SIGINT');
      const r = await running;
      assert.is(r.code, 130, r.stderr);
      const s = await readJson(file);
      assert.is(s.exit, 130);
      assert.is(s.error.code, 'ERR_INTERRUPTED');
      assert.ok(s.requests >= 2);
      assert.equal(s.written, []);
    },
  ),
);

Export(
  '--summary paths: refused before anything runs where it would clash; - is stdout with --output DIR',
  async () =>
    withHarness({ tenant: await sampleTenant() }, async (h) => {
      const before = await h.snapshot();
      const refused = async (args: Parameters<typeof h.run>[0], message: RegExp) => {
        const r = await h.run(args);
        assert.is(r.code, 2, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(await h.snapshot(), before, 'nothing ran');
        assert.is(h.emu.requests.length, 0, 'no request');
      };
      await refused(
        { output: '-', summary: '-' },
        /^entra: ERR_USAGE: --summary -: stdout carries the rows/m,
      );
      await refused({ summary: h.settingsFile }, /--summary .* is also read as --settings/);
      await refused({ summary: h.caFile }, /--summary .* is also read as --ca/);
      await refused({ summary: h.dir }, /--summary .*: is a folder: name a file/);
      await refused(
        { summary: join(h.dir, 'no', 'such', 's.json') },
        /--summary .*: folder .* does not exist/,
      );
      await mkdir(h.out, { recursive: true });
      const csv = join(h.out, 'Contoso_directoryobjects.csv');
      const r = await h.run({ summary: csv });
      assert.is(r.code, 2, r.stderr);
      assert.match(r.stderr, /--summary .* is one of connection Contoso's files in --output/);
      assert.is(await stat(csv).catch(() => undefined), undefined, 'the CSV was not written');
      // The connection's lock: a summary there would make every later export ERR_LOCKED.
      await mkdir(h.cookies, { recursive: true });
      const lock = join(h.cookies, 'Contoso.lock');
      const locked = await h.run({ summary: lock });
      assert.is(locked.code, 2, locked.stderr);
      assert.match(
        locked.stderr,
        /--summary .*Contoso\.lock is one of connection Contoso's files in --cookies/,
      );
      assert.is(await stat(lock).catch(() => undefined), undefined, 'no lock left');

      const out = await h.run({ ...SMALL, summary: '-' });
      assert.is(out.code, 0, out.stderr);
      const s = JSON.parse(out.stdout);
      assert.is(s.exit, 0);
      assert.ok(s.rows.directoryobjects.insert > 0);
    }),
);

Export(
  'transient 500s on GETs (--faults 500:0.1): a complete round ends with retries, the same files as without faults',
  async () => {
    let clean = '';
    await withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
      assert.is((await h.run({ ...SMALL, parallel: 1 })).code, 0);
      clean = await sorted(h);
    });
    await withHarness(
      { tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS, faults: '500:0.1', seed: 3 },
      async (h) => {
        const file = join(h.dir, 'summary.json');
        const r = await h.run({ ...SMALL, parallel: 1, summary: file });
        assert.is(r.code, 0, r.stderr);
        const s = await readJson(file);
        const failed = h.emu.requests.filter((q) => q.status === 500).length;
        assert.ok(failed >= 1, 'the emulator answered 500 at least once');
        assert.is(s.retries, failed, 'each 500 retried');
        assert.is(await sorted(h), clean, 'the same rows');
      },
    );
  },
);

Export.run();

// ---

const Fulfill = suite('fulfill --summary');

Fulfill(
  'results per table, command and status; requests, batches, retries, budget; exit 3 for a failed row',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'objects.csv': [
          'Command,@odata.type,id,displayName,jobTitle',
          `update,#microsoft.graph.user,${ADELE},,Summarized`,
          `update,#microsoft.graph.user,00000000-0000-0000-0000-000000000001,,Nobody`,
        ],
        'Contoso_members_group.csv': ['Command,groupId,id', `insert,${ENGINEERING},${LEE}`],
      });
      const file = join(dir, 'summary.json');
      const run = await fulfill(dir, files, { summary: file });
      assert.is(run.code, 3, run.stderr + String(run.error));
      const s = await readJson(file);
      assert.is(s.command, 'fulfill');
      assert.is(s.connection, 'Contoso');
      assert.is(s.exit, 3);
      assert.is(s.dryRun, false);
      assert.equal(s.inputs, files);
      assert.is(s.read, 3);
      // Lee is already a member of Engineering: the insert is skipped.
      assert.equal(s.status, { ok: 1, skipped: 1, failed: 1, planned: 0 });
      assert.equal(s.rows, {
        directoryobjects: { update: { ok: 1, failed: 1 } },
        members_group: { insert: { skipped: 1 } },
      });
      assert.ok(s.batches >= 1 && s.requests >= s.batches, `${s.batches} batches, ${s.requests} requests`);
      assert.is(s.writeBudget, 'off');
      assert.is(s.budgetWaitMs, 0);
      assert.is(s.throttled, 0);
      assert.is(s.maxDeletes.limit, '500');
      assert.is(s.maxDeletes.deletes, 0);
      assert.equal(emu.tenant.get(ADELE)?.data.jobTitle, 'Summarized');
    }),
);

Fulfill(
  '--dry-run: planned rows; over --max-deletes: exit 4, nothing sent, the counts in the summary',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'objects.csv': [
          'Command,@odata.type,id',
          `delete,#microsoft.graph.user,${LEE}`,
          `delete,#microsoft.graph.user,${ALEX}`,
        ],
      });
      const file = join(dir, 'summary.json');
      const dry = await fulfill(dir, files, { summary: file, dryRun: true });
      assert.is(dry.code, 0, dry.stderr + String(dry.error));
      let s = await readJson(file);
      assert.is(s.dryRun, true);
      assert.equal(s.rows, { directoryobjects: { delete: { planned: 2 } } });
      assert.is(s.batches, 0);

      const over = await fulfill(dir, files, { summary: file, maxDeletes: '1' });
      assert.is(over.error?.code, 'ERR_THRESHOLD');
      s = await readJson(file);
      assert.is(s.exit, 4);
      assert.is(s.error.code, 'ERR_THRESHOLD');
      assert.equal(s.maxDeletes, {
        limit: '1',
        source: '--max-deletes',
        forced: false,
        deletes: 2,
        byFile: { [files[0]!]: 2 },
        allowed: 1,
        exceeded: true,
      });
      assert.equal(s.status, { ok: 0, skipped: 0, failed: 0, planned: 0 });
      assert.is(s.batches, 0);
      assert.ok(emu.tenant.get(LEE), 'nothing sent');
    }),
);

Fulfill(
  '--summary paths: - with results on stdout, an input, the journal or results: usage errors before anything runs',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'objects.csv': ['Command,@odata.type,id,jobTitle', `update,#microsoft.graph.user,${ADELE},Never`],
      });
      const journal = join(dir, 'run.journal');
      const cases: [Parameters<typeof fulfill>[2], RegExp][] = [
        [{ results: '-', summary: '-' }, /--summary -: stdout carries the results/],
        [{ summary: files[0]! }, /--summary .*objects\.csv is also read as input/],
        [{ summary: journal, journal }, /--journal .*run\.journal is also --summary/],
        [{ summary: join(dir, 'results.csv') }, /--results .*results\.csv is also --summary/],
        [{ summary: join(dir, 'appsettings.agent.json') }, /is also read as --settings/],
        // The journal's lock: a summary there would make every later run of that journal ERR_LOCKED.
        [{ summary: `${journal}.lock`, journal }, /--summary .*run\.journal\.lock is also --journal's lock/],
        [{ results: `${journal}.lock`, journal }, /--results .*run\.journal\.lock is also --journal's lock/],
      ];
      for (const [args, message] of cases) {
        const run = await fulfill(dir, files, args);
        assert.is(run.error?.code, 'ERR_USAGE', JSON.stringify(args));
        assert.match(run.error!.message, message);
      }
      assert.is(emu.tenant.get(ADELE)?.data.jobTitle === 'Never', false, 'nothing sent');
    }),
);

Fulfill.run();
