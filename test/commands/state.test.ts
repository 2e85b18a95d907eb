import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { stateCommand, type ConnectionState } from '../../src/commands/state.js';
import { formatError, ToolError } from '../../src/errors.js';
import { SELECT } from '../helpers/diff-model.js';
import { SMALL_LIMITS, sampleTenant } from '../helpers/emulator.js';
import { textSink, withHarness, type Harness } from '../helpers/export-harness.js';

const DAY = 24 * 3600 * 1000;

async function state(args: Parameters<typeof stateCommand>[0]): Promise<{ code: number; stdout: string }> {
  const stdout = textSink();
  try {
    return { code: await stateCommand(args, { stdout }), stdout: stdout.text };
  } catch (error) {
    return { code: error instanceof ToolError ? error.exitCode : 1, stdout: formatError(error).join('\n') };
  }
}

const json = async (h: Harness): Promise<ConnectionState> => {
  const r = await state({ cookies: h.cookies, connection: 'Contoso', json: true });
  assert.is(r.code, 0, r.stdout);
  return (JSON.parse(r.stdout) as { connections: ConnectionState[] }).connections[0]!;
};

/** Makes the entity's cookie look `days` old (its sidecar's createdAt). */
async function age(h: Harness, entity: string, days: number): Promise<void> {
  const sidecar = join(h.cookies, `Contoso_cookie_${entity}.json`);
  const meta = JSON.parse(await readFile(sidecar, 'utf8')) as { createdAt: string };
  meta.createdAt = new Date(Date.now() - days * DAY).toISOString();
  await writeFile(sidecar, JSON.stringify(meta));
}

const State = suite('entra state');

State('a connection without state: none in text, a usage error for --connection', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    await mkdir(h.cookies, { recursive: true });
    assert.equal(await state({ cookies: h.cookies }), {
      code: 0,
      stdout: `no connection has state in ${h.cookies} yet\n`,
    });
    const r = await state({ cookies: h.cookies, connection: 'Contoso' });
    assert.is(r.code, 2);
    assert.match(r.stdout, /--connection Contoso: no state in /);
  }),
);

State('--cookies that is not a folder is a usage error, not "no state yet"', async () =>
  withHarness({ tenant: await sampleTenant() }, async (h) => {
    const cases: [string, string][] = [
      [join(h.dir, 'typo'), `ERR_USAGE: --cookies ${join(h.dir, 'typo')}: no such folder`],
      [h.settingsFile, `ERR_USAGE: --cookies ${h.settingsFile}: not a folder: name the cookie folder`],
      ['', 'ERR_USAGE: --cookies is empty: name the cookie folder'],
    ];
    for (const [cookies, message] of cases) {
      const r = await state({ cookies });
      assert.is(r.code, 2, cookies);
      assert.is(r.stdout, `entra: ${message}`);
    }
  }),
);

State('per entity the cookie age, days left, $select; the last run; snapshot counts with --diff', async () =>
  withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
    assert.is((await h.run({ select: SELECT })).code, 0);
    let s = await json(h);
    assert.equal(
      s.entities.map((e) => [e.entity, e.cookie?.select, e.cookie?.ageDays, e.cookie?.daysLeft, e.snapshot]),
      [
        ['group', 'displayName,id,members,owners', 0, 7, undefined],
        ['user', 'displayName,id,mail', 0, 7, undefined],
      ],
    );
    assert.is(s.snapshot, undefined);
    assert.is(s.lastRun?.exit, 0);
    assert.equal(s.lastRun?.modes, { user: 'complete', group: 'complete' });
    assert.is(s.lastRun?.diff, false);
    assert.ok((s.lastRun?.rows['directoryobjects insert'] ?? 0) > 10);
    assert.equal(s.lastCommittedRun, s.lastRun);

    h.emu.tenant.update('67aac11c-c912-5793-a9a1-f31f5b0f94f5', { mail: 'adele@contoso.com' });
    assert.is((await h.run({ select: SELECT, diff: true })).code, 0);
    s = await json(h);
    assert.equal(s.lastRun?.modes, { user: 'complete', group: 'complete' });
    assert.is(s.lastRun?.diff, true);
    assert.equal(s.lastRun?.rows, {
      'directoryobjects insert': s.snapshot!.objects.user! + s.snapshot!.objects.group!,
      'members_group insert': s.snapshot!.links.members_group!,
      'owners_group insert': s.snapshot!.links.owners_group!,
    });
    assert.ok(s.entities.every((e) => e.snapshot?.inStep === true && e.snapshot.objects > 0));
    assert.ok(s.snapshot!.bytes > 0);

    const text = await state({ cookies: h.cookies });
    assert.is(text.code, 0);
    assert.match(text.stdout, /^Contoso \(cookies in .*\)$/m);
    assert.match(
      text.stdout,
      /^ {2}user: cookie 0 days old, 7 days left; \$select displayName,id,mail; snapshot \d+ objects$/m,
    );
    assert.match(
      text.stdout,
      /^ {2}snapshot: .*Contoso_snapshot\.sqlite, \d+ bytes, committed .*; links: members_group \d+, owners_group \d+$/m,
    );
    assert.match(
      text.stdout,
      /^ {2}last run: .*, exit 0, --diff; user complete, group complete; directoryobjects insert \d+/m,
    );
  }),
);

State(
  'a cookie 6 days old: export warns, state says so; a failed run is the last run, the committed one stays',
  async () =>
    withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
      assert.is((await h.run({ select: SELECT })).code, 0);
      await age(h, 'user', 6);
      let s = await json(h);
      const user = s.entities.find((e) => e.entity === 'user')!;
      assert.equal([user.cookie?.ageDays, user.cookie?.daysLeft, user.cookie?.old], [6, 1, true]);
      assert.match(
        (await state({ cookies: h.cookies })).stdout,
        /user: cookie 6 days old, 1 days left \(warning: export soon\)/,
      );
      await age(h, 'user', 6);
      h.emu.faults.add({ kind: 'status', status: 403, rate: 1, match: '/groups/delta' });
      const r = await h.run({ select: SELECT });
      assert.is(r.code, 1);
      assert.match(r.stderr, /warning: user: the cookie is 6\.0 days old; Graph forgets it after 7 days/);
      s = await json(h);
      assert.is(s.lastRun?.exit, 1);
      assert.is(s.lastRun?.error, 'ERR_GRAPH_HTTP');
      assert.is(s.lastCommittedRun?.exit, 0);
      assert.match(
        (await state({ cookies: h.cookies })).stdout,
        /last run: .*exit 1 \(ERR_GRAPH_HTTP\)[^]*last committed run: .*exit 0/,
      );
      await age(h, 'user', 8);
      assert.match(
        (await state({ cookies: h.cookies })).stdout,
        /user: cookie 8 days old: expired, the next round is a complete one/,
      );
    }),
);

State('ad-hoc runs are not recorded', async () =>
  withHarness({ tenant: await sampleTenant(), deltaLimits: SMALL_LIMITS }, async (h) => {
    assert.is((await h.run({ select: SELECT })).code, 0);
    const before = await readFile(join(h.cookies, 'Contoso_runs.json'), 'utf8');
    assert.is((await h.run({ select: SELECT, output: '-', format: 'ndjson' })).code, 0);
    assert.is(await readFile(join(h.cookies, 'Contoso_runs.json'), 'utf8'), before);
  }),
);

State.run();
