import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import type { FulfillArgs } from '../../src/commands/fulfill.js';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fingerprintFile, openJournal } from '../../src/sinks/journal.js';
import { acquireLock } from '../../src/sinks/run-lock.js';
import { openPasswordFile } from '../../src/sinks/password-file.js';
import type { ResultRow } from '../../src/types.js';
import { sampleTenant } from '../helpers/emulator.js';
import { csvFiles, exportCsv, fulfill, snapshot, withWork } from '../helpers/fulfill-harness.js';

// Objects of samples/tenant.json.
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const GRADY = '297ceaa5-7b75-540f-b2e9-cf82a2590cd6';
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const PAYROLL_SP = '638dad0f-f1e0-51da-b33d-c6991125981e';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const LEADERSHIP = '970a8bdb-6d36-5ae5-a7e1-c55755c7c50a';
const ALL_STAFF = '9ca73240-af67-5d57-84bc-f54b694df418';
const FALCON = '62d809ca-1b9c-533f-8715-aaa13ca7b37d';
const USER_ADMIN = '6f9cf744-8158-51ba-bce4-5f1e3acd79ad';

const pick = (rows: Record<string, string>[] | undefined, ...columns: string[]) =>
  (rows ?? []).map((r) => columns.map((c) => r[c]).join(' ')).sort();

const brief = (r: ResultRow) => `${r.line} ${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}`;

// The changes of one fulfillment: each command on each entity type and navigation.
function changeFiles(leaver: string): Record<string, string[]> {
  return {
    'Contoso_directoryobjects.csv': [
      'Command,@odata.type,id,displayName,jobTitle,userPrincipalName,mailNickname,accountEnabled,description',
      'insert,#microsoft.graph.user,,Fulfill New,Analyst,fnew@contoso.onmicrosoft.com,fnew,true,',
      `update,#microsoft.graph.user,${ADELE},,Store Manager,,,,`,
      `delete,#microsoft.graph.user,${leaver},,,,,,`,
      'insert,#microsoft.graph.group,,Fulfill Group,,,,,Made by fulfill',
      `update,#microsoft.graph.group,${LEADERSHIP},,,,,,Leaders only`,
      `delete,#microsoft.graph.group,${FALCON},,,,,,`,
      `update,#microsoft.graph.servicePrincipal,${PAYROLL_SP},Payroll Sync 2,,,,,`,
    ],
    'Contoso_members_group.csv': [
      'Command,groupId,id',
      `insert,${ENGINEERING},${ADELE}`,
      `delete,${ENGINEERING},${GRADY}`,
    ],
    'Contoso_owners_group.csv': [
      'Command,groupId,id',
      `insert,${LEADERSHIP},${MEGAN}`,
      `delete,${ALL_STAFF},${DIEGO}`,
    ],
    'Contoso_members_directoryRole.csv': [
      'Command,directoryRoleId,id',
      `insert,${USER_ADMIN},${ADELE}`,
      `delete,${USER_ADMIN},${PAYROLL_SP}`,
    ],
  };
}

const Apply = suite('fulfillCommand: each command');

Apply('fulfillCommand(files) applies each command on each entity type; a replay changes nothing', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const leaver = emu.tenant.createUser({ mailNickname: 'leaver' }).id;
    await exportCsv(dir);
    const files = await csvFiles(dir, changeFiles(leaver));
    const passwordFile = join(dir, 'passwords.csv');
    const first = await fulfill(dir, files, { passwordFile });
    assert.is(first.code, 0, first.stderr);
    assert.equal(
      first.results.map((r) => `${r.file.slice(dir.length + 1)}:${brief(r)}`),
      [
        ...[2, 3, 4, 5, 6, 7, 8].map((l) => `Contoso_directoryobjects.csv:${l} ok`),
        ...['members_group', 'owners_group', 'members_directoryRole'].flatMap((t) =>
          [2, 3].map((l) => `Contoso_${t}.csv:${l} ok`),
        ),
      ],
      'one result per row, in input order',
    );
    const newUser = first.results[0]!.newId;
    const newGroup = first.results[3]!.newId;
    const user = emu.tenant.get(newUser)!;
    assert.equal(
      [user.data.displayName, user.data.jobTitle, user.data.accountEnabled],
      ['Fulfill New', 'Analyst', true],
    );
    assert.is(emu.tenant.get(ADELE)?.data.jobTitle, 'Store Manager');
    assert.is(emu.tenant.get(leaver), undefined);
    const group = emu.tenant.get(newGroup)!;
    assert.equal(
      [
        group.data.displayName,
        group.data.mailNickname,
        group.data.securityEnabled,
        group.data.mailEnabled,
        group.data.description,
      ],
      ['Fulfill Group', 'FulfillGroup', true, false, 'Made by fulfill'],
      'group defaults: a security group, mailNickname from displayName',
    );
    assert.is(emu.tenant.get(LEADERSHIP)?.data.description, 'Leaders only');
    assert.is(emu.tenant.get(FALCON), undefined);
    assert.is(emu.tenant.get(PAYROLL_SP)?.data.displayName, 'Payroll Sync 2');
    assert.ok(emu.tenant.links(ENGINEERING, 'members').includes(ADELE));
    assert.not.ok(emu.tenant.links(ENGINEERING, 'members').includes(GRADY));
    assert.ok(emu.tenant.links(LEADERSHIP, 'owners').includes(MEGAN));
    assert.not.ok(emu.tenant.links(ALL_STAFF, 'owners').includes(DIEGO));
    assert.ok(emu.tenant.links(USER_ADMIN, 'members').includes(ADELE));
    assert.not.ok(emu.tenant.links(USER_ADMIN, 'members').includes(PAYROLL_SP));

    // An incremental export shows exactly these changes (link owners also show as updated objects).
    const changes = await exportCsv(dir);
    const objects = changes.directoryobjects;
    assert.equal(
      pick(
        objects?.filter((r) => r.Command === 'delete'),
        'id',
      ),
      [FALCON, leaver].sort(),
    );
    const updated = pick(
      objects?.filter((r) => r.Command === 'update'),
      'id',
    );
    const expected = [newUser, ADELE, newGroup, LEADERSHIP, PAYROLL_SP];
    for (const id of expected) assert.ok(updated.includes(id), `update row for ${id}`);
    for (const id of updated)
      assert.ok([...expected, ENGINEERING, ALL_STAFF, USER_ADMIN].includes(id), `unexpected update of ${id}`);
    assert.equal(pick(changes.members_group, 'Command', 'groupId', 'id'), [
      `delete ${ENGINEERING} ${GRADY}`,
      `insert ${ENGINEERING} ${ADELE}`,
    ]);
    assert.equal(pick(changes.owners_group, 'Command', 'groupId', 'id'), [
      `delete ${ALL_STAFF} ${DIEGO}`,
      `insert ${LEADERSHIP} ${MEGAN}`,
    ]);
    assert.equal(pick(changes.members_directoryRole, 'Command', 'directoryRoleId', 'id'), [
      `delete ${USER_ADMIN} ${PAYROLL_SP}`,
      `insert ${USER_ADMIN} ${ADELE}`,
    ]);

    // Replaying the same files: every row ok or skipped, nothing changed, nothing created twice.
    const before = snapshot(emu);
    const counts = [emu.tenant.list('user').length, emu.tenant.list('group').length];
    const replay = await fulfill(dir, files, { passwordFile });
    assert.is(replay.code, 0, replay.stderr);
    assert.is(replay.results.length, 13);
    assert.ok(
      replay.results.every((r) => r.status === 'ok' || r.status === 'skipped'),
      JSON.stringify(replay.results),
    );
    assert.equal([replay.results[0]!.status, replay.results[0]!.newId], ['skipped', newUser]);
    assert.equal([replay.results[3]!.status, replay.results[3]!.newId], ['skipped', newGroup]);
    assert.is(snapshot(emu), before);
    assert.equal([emu.tenant.list('user').length, emu.tenant.list('group').length], counts);

    // The password of the one user created went to the password file only: created once, discarded on replay.
    const passwords = parse<Record<string, string>>(await readFile(passwordFile, 'utf8'), {
      columns: true,
    });
    assert.equal(
      passwords.map((p) => `${p.userPrincipalName} ${p.state}`),
      ['pending', 'created', 'pending', 'discarded'].map((s) => `fnew@contoso.onmicrosoft.com ${s}`),
    );
    const secret = passwords[1]!.password!;
    for (const text of [
      first.stderr,
      replay.stderr,
      JSON.stringify(first.results),
      JSON.stringify(replay.results),
    ])
      assert.not.ok(text.includes(secret) || text.includes(emu.clientSecret), 'no secret in any output');
  }),
);

Apply.run();

// ---

const Rows = suite('fulfillCommand: rows');

Rows(
  'fulfillCommand(file with bad rows) fails each alone with its line, applies the others, exits 3',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'changes.csv': [
          'Command,@odata.type,id,jobTitle,accountEnabled,displayName,userPrincipalName,mailNickname',
          `update,#microsoft.graph.user,${ADELE},Buyer,,,,`,
          `upsert,#microsoft.graph.user,${ADELE},Buyer,,,,`,
          `update,#microsoft.graph.user,not-a-guid,Buyer,,,,`,
          `update,#microsoft.graph.user,${MEGAN},,maybe,,,`,
          'insert,#microsoft.graph.user,,,true,No Password,nopw@contoso.onmicrosoft.com,nopw',
          `update,#microsoft.graph.user,00000000-0000-4000-8000-000000000404,Ghost,,,,`,
          `update,#microsoft.graph.user,${GRADY},Lead Designer,,,,`,
        ],
      });
      const run = await fulfill(dir, files);
      assert.is(run.code, 3);
      assert.equal(run.results.map(brief), [
        '2 ok',
        '3 failed ERR_ROW_INVALID',
        '4 failed ERR_ROW_INVALID',
        '5 failed ERR_ROW_INVALID',
        '6 failed ERR_ROW_INVALID',
        '7 failed Request_ResourceNotFound',
        '8 ok',
      ]);
      assert.equal(
        run.results.slice(1, 5).map((r) => r.message),
        [
          'Command "upsert": expected insert, update or delete',
          'id is not a GUID or a userPrincipalName: found "not-a-guid"',
          'column accountEnabled: expected true or false, found "maybe"',
          'passwordProfile: user nopw@contoso.onmicrosoft.com has no passwordProfile password and no --password-file was given',
        ],
      );
      assert.is(run.results[5]!.httpStatus, '404');
      assert.is(emu.tenant.get(ADELE)?.data.jobTitle, 'Buyer');
      assert.is(emu.tenant.get(GRADY)?.data.jobTitle, 'Lead Designer');
      assert.is(emu.tenant.get(MEGAN)?.data.accountEnabled, true);
    }),
);

Rows(
  'fulfillCommand(files, concurrency 8) keeps update → add → remove → delete of one group in order',
  async () =>
    withWork({ tenant: await sampleTenant(), latency: { fixedMs: 0, jitterMs: 10 } }, async (emu, dir) => {
      const users = Array.from({ length: 40 }, (_, i) => emu.tenant.createUser({ mailNickname: `o${i}` }).id);
      const groups = Array.from(
        { length: 6 },
        (_, i) => emu.tenant.createGroup({ mailNickname: `og${i}` }).id,
      );
      const target = emu.tenant.createGroup({ mailNickname: 'target' }).id;
      const x = users[0]!;
      const titles = (k: number) =>
        users.slice(1, 21).map((u, i) => `update,#microsoft.graph.user,${u},Title ${k}.${i},`);
      const links = (k: number) =>
        users.slice(1 + k * 10, 11 + k * 10).map((u, i) => `insert,${groups[(i + k) % 6]},${u}`);
      const files = await csvFiles(dir, {
        'first.csv': [
          'Command,@odata.type,id,jobTitle,description',
          ...titles(1),
          `update,#microsoft.graph.group,${target},,first`,
          ...titles(2),
        ],
        'Contoso_members_group.csv': [
          'Command,groupId,id',
          ...links(0),
          `insert,${target},${x}`,
          ...links(1),
          `delete,${target},${x}`,
          ...links(2),
        ],
        'last.csv': [
          'Command,@odata.type,id,jobTitle',
          `delete,#microsoft.graph.group,${target},`,
          ...users.slice(1, 30).map((u) => `update,#microsoft.graph.user,${u},Last`),
        ],
      });
      const run = await fulfill(dir, files, { concurrency: 8 });
      assert.is(run.code, 0, JSON.stringify(run.results.filter((r) => r.status === 'failed')));
      const sequence = emu.requests
        .filter((r) => r.path.includes(target))
        .map(
          (r) => `${r.method} ${r.path.replace(`/v1.0/groups/${target}`, 'G').replace(x, 'X')} ${r.status}`,
        );
      assert.equal(sequence, [
        'PATCH G 204',
        'POST G/members/$ref 204',
        'DELETE G/members/X/$ref 204',
        'DELETE G 204',
      ]);
      assert.is(emu.tenant.get(target), undefined);
    }),
);

Rows('fulfillCommand(--dry-run) reports each planned request, hides passwords, sends nothing', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const files = await csvFiles(dir, {
      'new.csv': [
        'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled,passwordProfile',
        'insert,#microsoft.graph.user,,Given Pw,given@contoso.onmicrosoft.com,given,true,"{""password"":""Secr3t!given-pw"",""forceChangePasswordNextSignIn"":false}"',
        'insert,#microsoft.graph.user,,Generated,gen@contoso.onmicrosoft.com,gen,true,',
        `delete,#microsoft.graph.user,${ADELE},,,,,`,
      ],
      'x_members_group.csv': ['Command,groupId,id', `delete,${ENGINEERING},${GRADY}`],
    });
    const before = emu.requests.length;
    // The generated password needs somewhere to go, in the plan as in the run.
    const run = await fulfill(dir, files, { dryRun: true, passwordFile: join(dir, 'pw.csv') });
    assert.is(run.code, 0);
    assert.ok(run.results.every((r) => r.status === 'planned'));
    assert.equal(
      run.results.map((r) => r.message),
      [
        'POST /users {"displayName":"Given Pw","userPrincipalName":"given@contoso.onmicrosoft.com","mailNickname":"given","accountEnabled":true,"passwordProfile":{"password":"***","forceChangePasswordNextSignIn":false}}',
        'POST /users {"displayName":"Generated","userPrincipalName":"gen@contoso.onmicrosoft.com","mailNickname":"gen","accountEnabled":true,"passwordProfile":{"forceChangePasswordNextSignIn":true,"password":"***"}}',
        `DELETE /users/${ADELE}`,
        `DELETE /groups/${ENGINEERING}/members/${GRADY}/$ref`,
      ],
    );
    assert.is(emu.requests.length, before, 'nothing sent, not even a token request');
    assert.not.ok(run.stderr.includes('Secr3t!given-pw'));

    // Without settings, a dry run plans against Graph's own URL.
    const bare = await fulfill(dir, files.slice(1), { dryRun: true, settings: join(dir, 'none.json') });
    assert.is(bare.code, 0);
    assert.equal(
      bare.results.map((r) => r.status),
      ['planned'],
    );
  }),
);

Rows.run();

// ---

const Faults = suite('fulfillCommand: faults');

Faults(
  'fulfillCommand(files) rides out 429/5xx storms per item and per batch: everything applies, once',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const users = Array.from({ length: 50 }, (_, i) => emu.tenant.createUser({ mailNickname: `s${i}` }).id);
      const groups = Array.from(
        { length: 5 },
        (_, i) => emu.tenant.createGroup({ mailNickname: `sg${i}` }).id,
      );
      emu.faults.add(
        { kind: 'status', status: 429, retryAfter: 0, count: 15, match: '/members/$ref' },
        { kind: 'status', status: 503, retryAfter: 0, count: 4, match: /PATCH \/v1\.0\/users/ },
        { kind: 'status', status: 500, retryAfter: 0, count: 2, match: /^POST \/v1\.0\/groups$/ },
        { kind: 'status', status: 429, retryAfter: 0, count: 2, match: '$batch' },
        { kind: 'status', status: 503, retryAfter: 0, count: 1, match: '$batch' },
        { kind: 'status', status: 504, retryAfter: 0, count: 1, match: '$batch' },
        { kind: 'reset', count: 1, match: '$batch' },
        { kind: 'truncate', count: 1, match: '$batch' },
      );
      const files = await csvFiles(dir, {
        'objects.csv': [
          'Command,@odata.type,id,displayName,jobTitle',
          ...users.slice(0, 20).map((u) => `update,#microsoft.graph.user,${u},,Storm`),
          ...[1, 2, 3].map((n) => `insert,#microsoft.graph.group,,Storm Group ${n},`),
        ],
        'Contoso_members_group.csv': [
          'Command,groupId,id',
          ...users.map((u, i) => `insert,${groups[i % 5]},${u}`),
        ],
      });
      const run = await fulfill(dir, files);
      assert.is(run.code, 0, JSON.stringify(run.results.filter((r) => r.status === 'failed')));
      assert.is(run.results.length, 73);
      assert.ok(run.results.every((r) => r.status === 'ok' || r.status === 'skipped'));
      for (const n of [1, 2, 3])
        assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === `StormGroup${n}`).length, 1);
      for (const [i, u] of users.entries())
        assert.ok(emu.tenant.links(groups[i % 5]!, 'members').includes(u));
      for (const u of users.slice(0, 20)) assert.is(emu.tenant.get(u)?.data.jobTitle, 'Storm');
      assert.is(
        emu.requests.filter((r) => r.method === 'POST' && /\/v1\.0\/groups$/.test(r.path) && r.status === 201)
          .length,
        3,
      );
    }),
);

Faults(
  'fulfillCommand(--write-budget 50/1) paces writes under a small write budget: no row fails, few 429s',
  async () =>
    withWork(
      {
        tenant: await sampleTenant(),
        throttle: { enabled: true, writes: 50, writeWindowMs: 1000, resourceUnits: 100_000 },
      },
      async (emu, dir) => {
        const users = Array.from(
          { length: 40 },
          (_, i) => emu.tenant.createUser({ mailNickname: `p${i}` }).id,
        );
        const groups = Array.from(
          { length: 5 },
          (_, i) => emu.tenant.createGroup({ mailNickname: `pg${i}` }).id,
        );
        const files = await csvFiles(dir, {
          'Contoso_members_group.csv': [
            'Command,groupId,id',
            ...groups.flatMap((g) => users.map((u) => `insert,${g},${u}`)),
          ],
        });
        const started = performance.now();
        const run = await fulfill(dir, files, { writeBudget: '50/1', concurrency: 8 });
        const seconds = (performance.now() - started) / 1000;
        assert.is(run.code, 0);
        assert.is(run.results.filter((r) => r.status === 'ok').length, 200);
        const throttled = emu.requests.filter((r) => r.status === 429).length;
        assert.ok(throttled <= 5, `${throttled} throttled`);
        assert.ok(
          seconds >= 2.5,
          `200 writes at 50/s after a burst of 50 take 3 s, took ${seconds.toFixed(1)}`,
        );
      },
    ),
);

Faults.run();

// ---

const Stop = suite('fulfillCommand: interruptions');

Stop(
  'fulfillCommand() on SIGINT exits 130, reports no unsent row as ok, and a --journal rerun finishes',
  async () =>
    withWork({ tenant: await sampleTenant(), latency: { fixedMs: 150, jitterMs: 0 } }, async (emu, dir) => {
      const users = Array.from({ length: 60 }, (_, i) => emu.tenant.createUser({ mailNickname: `i${i}` }).id);
      const group = emu.tenant.createGroup({ mailNickname: 'interrupted' }).id;
      const files = await csvFiles(dir, {
        'Contoso_members_group.csv': ['Command,groupId,id', ...users.map((u) => `insert,${group},${u}`)],
      });
      const journal = join(dir, 'run.journal');
      const timer = setInterval(() => {
        if (emu.requests.some((r) => r.path.endsWith('/$batch'))) {
          clearInterval(timer);
          process.emit('SIGINT');
        }
      }, 5);
      const first = await fulfill(dir, files, { journal, concurrency: 1 });
      clearInterval(timer);
      assert.is(first.error?.code, 'ERR_INTERRUPTED');
      assert.is(first.error?.exitCode, 130);
      const members = new Set(emu.tenant.links(group, 'members'));
      assert.ok(members.size > 0 && members.size < 60, `${members.size} applied`);
      for (const r of first.results)
        if (r.status === 'ok') assert.ok(members.has(r.id), `line ${r.line} reported ok but not applied`);
        else assert.equal([r.status, r.errorCode], ['failed', 'ERR_INTERRUPTED']);
      const lines = first.results.map((r) => Number(r.line));
      assert.equal(
        lines,
        [...lines].sort((a, b) => a - b),
        'in input order',
      );

      const rerun = await fulfill(dir, files, { journal });
      assert.is(rerun.code, 0);
      assert.is(rerun.results.length, 60);
      const fromJournal = rerun.results.filter((r) => r.message.endsWith('(journal)'));
      assert.is(fromJournal.length, first.results.filter((r) => r.status === 'ok').length);
      assert.ok(
        rerun.results.every((r) => r.status === 'ok'),
        'the rest is sent now, not skipped',
      );
      assert.is(emu.tenant.links(group, 'members').length, 60);
    }),
);

Stop(
  'fulfillCommand(--journal) after a crash looks started creates up: found is ok, its pending password created',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'new.csv': [
          'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled',
          'insert,#microsoft.graph.user,,Made Before,made@contoso.onmicrosoft.com,made,true',
          'insert,#microsoft.graph.user,,Never Made,never@contoso.onmicrosoft.com,never,true',
          'insert,#microsoft.graph.group,,Crash Group,,crashgroup,',
        ],
      });
      // What a run killed after sending leaves: started entries, pending passwords, and one user made.
      const journalPath = join(dir, 'run.journal');
      const journal = await openJournal(journalPath, [
        { file: files[0]!, fingerprint: await fingerprintFile(files[0]!) },
      ]);
      for (const [line, objectKey] of [
        [2, 'users/userPrincipalName=made@contoso.onmicrosoft.com'],
        [3, 'users/userPrincipalName=never@contoso.onmicrosoft.com'],
        [4, 'groups/mailNickname=crashgroup'],
      ] as const)
        await journal.recordStarted({ file: files[0]!, line, objectKey });
      await journal.close();
      const passwordFile = join(dir, 'passwords.csv');
      const sink = await openPasswordFile(passwordFile);
      const old = (upn: string, line: number) => ({
        file: files[0]!,
        line,
        userPrincipalName: upn,
        password: `Old#${line}-pw-xyz123`,
      });
      await sink.prepare([old('made@contoso.onmicrosoft.com', 2), old('never@contoso.onmicrosoft.com', 3)]);
      await sink.close();
      const made = emu.tenant.createUser({
        mailNickname: 'made',
        userPrincipalName: 'made@contoso.onmicrosoft.com',
      }).id;
      const crashGroup = emu.tenant.createGroup({
        mailNickname: 'crashgroup',
        displayName: 'Crash Group',
      }).id;

      const run = await fulfill(dir, files, { journal: journalPath, passwordFile });
      assert.is(run.code, 0);
      assert.equal(
        run.results.map((r) => `${r.status} ${r.httpStatus}`),
        ['ok 200', 'ok 201', 'ok 200'],
      );
      assert.equal([run.results[0]!.newId, run.results[2]!.newId], [made, crashGroup]);
      assert.match(run.results[0]!.message, /created by an earlier run/);
      assert.is(emu.tenant.list('group').filter((g) => g.data.mailNickname === 'crashgroup').length, 1);
      const states = parse<Record<string, string>>(await readFile(passwordFile, 'utf8'), {
        columns: true,
      }).map(
        (p) =>
          `${p.userPrincipalName?.split('@')[0]} ${p.state} ${p.password?.startsWith('Old#') ? 'old' : 'new'}`,
      );
      assert.equal(states.slice(2).sort(), [
        'made created old',
        'never created new',
        'never discarded old',
        'never pending new',
      ]);
    }),
);

Stop.run();

// ---

const Bad = suite('fulfillCommand: bad input');

Bad('fulfillCommand(bad input) stops before any write with one clear message (exit 2)', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const [good, unknownColumn, noNav] = await csvFiles(dir, {
      'good.csv': ['Command,@odata.type,id,jobTitle', `update,#microsoft.graph.user,${ADELE},X`],
      'unknown.csv': ['Command,@odata.type,id,jobTitel', `update,#microsoft.graph.user,${ADELE},X`],
      'links.csv': ['Command,groupId,id', `insert,${ENGINEERING},${ADELE}`],
    });
    await writeFile(join(dir, 'open.csv'), '', { mode: 0o644 });
    await chmod(join(dir, 'open.csv'), 0o644);
    await mkdir(join(dir, 'other'));
    const otherJournal = join(dir, 'other.journal');
    await (await openJournal(otherJournal, [{ file: good!, fingerprint: 'sha256:00' }])).close();
    const cases: [Partial<FulfillArgs>, string, RegExp][] = [
      [{ files: [join(dir, 'missing.csv')] }, 'ERR_CSV', /missing\.csv: cannot read/],
      [
        { files: [unknownColumn!] },
        'ERR_CSV',
        /unknown\.csv, line 1, column jobTitel: unknown column: not a property of user, group or servicePrincipal/,
      ],
      [
        { files: [noNav!] },
        'ERR_CSV',
        /links\.csv, line 1: link file without a navigation: name it \*_<members\|owners>_group\.csv or pass --navigation/,
      ],
      [{ files: [good!, good!] }, 'ERR_USAGE', /the same input file is named twice/],
      [
        { files: [good!], concurrency: 0 },
        'ERR_USAGE',
        /--concurrency must be an integer from 1 to 64, got 0/,
      ],
      [{ files: [good!], writeBudget: 'fast' }, 'ERR_USAGE', /--write-budget: expected WRITES\/SECONDS/],
      [{ files: [good!], ca: join(dir, 'nope.pem') }, 'ERR_USAGE', /--ca: cannot read .*nope\.pem: ENOENT/],
      [{ files: [good!], settings: join(dir, 'none.json') }, 'ERR_SETTINGS', /none\.json/],
      [{ files: [good!], connection: 'Fabrikam' }, 'ERR_SETTINGS', /no connection 'Fabrikam'/],
      [
        { files: [good!], passwordFile: join(dir, 'open.csv') },
        'ERR_PASSWORD_FILE',
        /readable by other users/,
      ],
      [
        { files: [good!], results: join(dir, 'nodir', 'r.csv') },
        'ERR_USAGE',
        /--results .*nodir\/r\.csv: folder .*nodir does not exist$/,
      ],
      [
        { files: [good!], journal: '/dev/null' },
        'ERR_USAGE',
        /^--journal \/dev\/null: not a regular file \(it is a character device\)$/,
      ],
      [
        { files: [good!], journal: join(dir, 'other') },
        'ERR_USAGE',
        /^--journal .*other: is a folder: name a file$/,
      ],
      [
        // Root ignores mode bits, not sysfs.
        { files: [good!], journal: process.getuid?.() === 0 ? '/sys/run.journal' : '/run.journal' },
        'ERR_USAGE',
        /^--journal \/(sys\/)?run\.journal: cannot create it \(permission denied, EACCES\)$/,
      ],
      [
        { files: [good!], results: good! },
        'ERR_USAGE',
        /^--results .*good\.csv is also read as input: the run would overwrite it; name another file$/,
      ],
      [
        { files: [good!], passwordFile: join(dir, 'p.csv'), results: join(dir, '.', 'p.csv') },
        'ERR_USAGE',
        /^--password-file .*p\.csv is also --results: the run would overwrite it/,
      ],
      [
        { files: [good!], journal: join(dir, 'same.journal'), results: join(dir, 'same.journal') },
        'ERR_USAGE',
        /^--journal .*same\.journal is also --results: the run would overwrite it/,
      ],
      [
        { files: [good!], journal: good! },
        'ERR_USAGE',
        /^--journal .*good\.csv is also read as input: the run would overwrite it/,
      ],
      [
        { files: [good!], results: join(dir, 'appsettings.agent.json') },
        'ERR_USAGE',
        /^--results .*appsettings\.agent\.json is also read as --settings/,
      ],
      [
        { files: [good!], journal: otherJournal },
        'ERR_JOURNAL',
        /made for other content of .*good\.csv: use a new journal/,
      ],
    ];
    for (const [args, code, message] of cases) {
      const run = await fulfill(dir, [], args);
      assert.is(run.error?.code, code, `${JSON.stringify(args)}: ${run.error?.message}`);
      assert.is(run.error?.exitCode, 2);
      assert.match(run.error!.message, message);
      assert.not.ok(run.error!.message.includes(emu.clientSecret));
    }
    assert.is(emu.requests.filter((r) => r.path.endsWith('/$batch')).length, 0, 'nothing written');
    assert.is(emu.tenant.get(ADELE)?.data.jobTitle, 'Retail Manager');
    assert.is(
      await readFile(good!, 'utf8'),
      `Command,@odata.type,id,jobTitle\nupdate,#microsoft.graph.user,${ADELE},X\n`,
    );
  }),
);

Bad(
  'fulfillCommand({ journal }) while another run holds the journal fails at once, sending nothing',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const [good] = await csvFiles(dir, {
        'good.csv': ['Command,@odata.type,id,jobTitle', `update,#microsoft.graph.user,${ADELE},X`],
      });
      const journal = join(dir, 'run.journal');
      const lock = await acquireLock(`${journal}.lock`, { command: 'entra fulfill (journal run.journal)' });
      try {
        const run = await fulfill(dir, [], { files: [good!], journal });
        assert.is(run.error?.code, 'ERR_LOCKED');
        assert.is(run.error?.exitCode, 1);
        assert.match(
          run.error!.message,
          /run\.journal\.lock is held by entra fulfill \(journal run\.journal\), pid \d+ on /,
        );
      } finally {
        await lock.release();
      }
      assert.is(emu.requests.filter((r) => r.path.endsWith('/$batch')).length, 0, 'nothing written');
      const again = await fulfill(dir, [], { files: [good!], journal });
      assert.is(again.code, 0, again.stderr);
      assert.is(emu.tenant.get(ADELE)?.data.jobTitle, 'X');
    }),
);

Bad.run();
