import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResultRow } from '../../src/types.js';
import { sampleTenant } from '../helpers/emulator.js';
import { csvFiles, fulfill, snapshot, withWork } from '../helpers/fulfill-harness.js';

// Objects of samples/tenant.json.
const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ADELE_UPN = 'AdeleV@contoso.onmicrosoft.com';
const ENGINEERING = '4943b13a-7855-5f0b-aab4-d76d7eca5d5a';
const MEGAN = '1c80cdf9-d490-5f8b-9b6b-7e9464e44421';
const DOMAIN = 'contoso.onmicrosoft.com';

const brief = (r: ResultRow) => `${r.line} ${r.status}${r.errorCode ? ` ${r.errorCode}` : ''}`;
const userByUpn = (emu: Parameters<Parameters<typeof withWork>[1]>[0], upn: string) =>
  emu.tenant.list('user').find((u) => String(u.data.userPrincipalName).toLowerCase() === upn.toLowerCase());
const groupByNick = (emu: Parameters<Parameters<typeof withWork>[1]>[0], nick: string) =>
  emu.tenant.list('group').filter((g) => g.data.mailNickname === nick);

// Three new users and a new group, the users added to it and one of them to an existing group, in one
// run: the link rows name the new objects by userPrincipalName and mailNickname.
const sameFile = (): Record<string, string[]> => ({
  'team_directoryobjects.csv': [
    'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled',
    `insert,#microsoft.graph.user,,Ann Ash,ann@${DOMAIN},ann,true`,
    `insert,#microsoft.graph.user,,Ben Birch,ben@${DOMAIN},ben,true`,
    `insert,#microsoft.graph.user,,Cat Cedar,cat@${DOMAIN},cat,true`,
    'insert,#microsoft.graph.group,,Project Kite,,kite,',
  ],
  'team_members_group.csv': [
    'Command,groupId,id',
    `insert,kite,ann@${DOMAIN}`,
    `insert,kite,BEN@${DOMAIN}`,
    `insert,Kite,cat@${DOMAIN}`,
    `insert,${ENGINEERING},ann@${DOMAIN}`,
    `insert,kite,${ADELE}`,
  ],
  'team_owners_group.csv': ['Command,groupId,id', `insert,kite,${MEGAN}`],
});

const Same = suite('fulfill: references to objects of the same input');

Same(
  'creates users by UPN and adds them to a group made in the same file (by mailNickname) and to an existing one (by id), in one run; a replay changes nothing',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, sameFile());
      const passwordFile = join(dir, 'passwords.csv');
      const first = await fulfill(dir, files, { passwordFile });
      assert.is(first.code, 0, first.stderr + JSON.stringify(first.results, null, 1));
      assert.ok(first.results.every((r) => r.status === 'ok'));
      const kite = groupByNick(emu, 'kite');
      assert.is(kite.length, 1);
      const ids = ['ann', 'ben', 'cat'].map((n) => userByUpn(emu, `${n}@${DOMAIN}`)!.id);
      assert.equal(emu.tenant.links(kite[0]!.id, 'members').sort(), [...ids, ADELE].sort());
      assert.ok(emu.tenant.links(ENGINEERING, 'members').includes(ids[0]!));
      assert.equal(emu.tenant.links(kite[0]!.id, 'owners'), [MEGAN]);

      // Results carry each object's key beside its new id.
      const created = first.results.slice(0, 4).map((r) => `${r.key} ${r.newId}`);
      assert.equal(created, [
        `ann@${DOMAIN} ${ids[0]}`,
        `ben@${DOMAIN} ${ids[1]}`,
        `cat@${DOMAIN} ${ids[2]}`,
        `kite ${kite[0]!.id}`,
      ]);
      assert.equal(first.results[4]!.id, `ann@${DOMAIN}`, 'a link row reports the names as given');
      assert.is(first.results[4]!.ownerId, 'kite');

      const before = snapshot(emu);
      const replay = await fulfill(dir, files, { passwordFile });
      assert.is(replay.code, 0, replay.stderr);
      assert.equal(
        replay.results.map((r) => r.status),
        first.results.map(() => 'skipped'),
        JSON.stringify(replay.results.map((r) => r.message)),
      );
      assert.equal(
        replay.results.slice(0, 4).map((r) => `${r.key} ${r.newId}`),
        created,
        'a replayed create names the object it found',
      );
      assert.is(snapshot(emu), before, 'the replay changed nothing');
    }),
);

Same('a link row naming an object whose create failed fails, and says why', async () =>
  withWork({ tenant: await sampleTenant() }, async (_emu, dir) => {
    const files = await csvFiles(dir, {
      'f_directoryobjects.csv': [
        'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled',
        `insert,#microsoft.graph.user,,No Pass,nopass@${DOMAIN},nopass,true`,
      ],
      'f_members_group.csv': ['Command,groupId,id', `insert,${ENGINEERING},nopass@${DOMAIN}`],
    });
    const run = await fulfill(dir, files);
    assert.is(run.code, 3);
    assert.equal(run.results.map(brief), ['2 failed ERR_ROW_INVALID', '2 failed ERR_REFERENCE']);
    assert.is(
      run.results[1]!.message,
      `id: no user has userPrincipalName "nopass@${DOMAIN}": its insert on line 2 of ${files[0]} failed`,
    );
  }),
);

Same.run();

// ---

const Names = suite('fulfill: users by userPrincipalName, groups by mailNickname');

Names(
  'update and delete by userPrincipalName and mailNickname; a replay of the delete is skipped',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const leaver = emu.tenant.createUser({ userPrincipalName: `leaver@${DOMAIN}`, mailNickname: 'leaver' });
      const group = emu.tenant.createGroup({ mailNickname: 'osprey', displayName: 'Osprey' });
      const files = await csvFiles(dir, {
        'changes.csv': [
          'Command,@odata.type,id,jobTitle,description',
          `update,#microsoft.graph.user,${ADELE_UPN.toLowerCase()},Buyer,`,
          `delete,#microsoft.graph.user,leaver@${DOMAIN},,`,
          'update,#microsoft.graph.group,osprey,,Birds of prey',
        ],
      });
      const run = await fulfill(dir, files);
      assert.is(run.code, 0, run.stderr + JSON.stringify(run.results));
      assert.equal(run.results.map(brief), ['2 ok', '3 ok', '4 ok']);
      assert.is(emu.tenant.get(ADELE)!.data.jobTitle, 'Buyer');
      assert.is(emu.tenant.get(leaver.id), undefined);
      assert.is(emu.tenant.get(group.id)!.data.description, 'Birds of prey');
      assert.equal(
        run.results.map((r) => r.key),
        [ADELE_UPN.toLowerCase(), `leaver@${DOMAIN}`, 'osprey'],
      );

      const replay = await fulfill(dir, files);
      assert.equal(replay.results.map(brief), ['2 ok', '3 skipped Request_ResourceNotFound', '4 ok']);
    }),
);

Names(
  'a dangling or ambiguous reference fails its row with a clear message; a delete of it is skipped',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      emu.tenant.createGroup({ mailNickname: 'twin', displayName: 'Twin 1' });
      emu.tenant.createGroup({ mailNickname: 'twin', displayName: 'Twin 2' });
      const files = await csvFiles(dir, {
        'x_members_group.csv': [
          'Command,groupId,id',
          `insert,nosuchgroup,${ADELE}`,
          `insert,${ENGINEERING},ghost@${DOMAIN}`,
          `insert,twin,${ADELE}`,
          `delete,${ENGINEERING},ghost@${DOMAIN}`,
          `insert,${ENGINEERING},not an upn`,
          `insert,${ENGINEERING},${ADELE_UPN}`,
        ],
      });
      const before = emu.requests.length;
      const run = await fulfill(dir, files);
      assert.is(run.code, 3);
      assert.equal(run.results.map(brief), [
        '2 failed ERR_REFERENCE',
        '3 failed ERR_REFERENCE',
        '4 failed ERR_REFERENCE',
        '5 skipped',
        '6 failed ERR_ROW_INVALID',
        '7 ok',
      ]);
      const twins = groupByNick(emu, 'twin').map((g) => g.id);
      assert.equal(
        run.results.slice(0, 5).map((r) => r.message),
        [
          'groupId: no group has mailNickname "nosuchgroup"',
          `id: no user has userPrincipalName "ghost@${DOMAIN}"`,
          `groupId: more than one group has mailNickname "twin" (${twins.join(', ')}): name the group by its id`,
          `nothing to do: id: no user has userPrincipalName "ghost@${DOMAIN}"`,
          'id is not a GUID, a userPrincipalName or a mailNickname: found "not an upn"',
        ],
      );
      // ghost@ is looked up once for two rows, and each group name once.
      const lookups = emu.requests
        .slice(before)
        .filter((r) => r.method === 'GET' && /\/users\/ghost|mailNickname/.test(decodeURIComponent(r.path)));
      assert.is(lookups.length, 3, JSON.stringify(lookups.map((r) => r.path)));
    }),
);

Names.run();

// ---

const Dry = suite('fulfill --dry-run: the checks of the real run');

Dry('--dry-run fails a new user without a password when no --password-file is given', async () =>
  withWork({ tenant: await sampleTenant() }, async (_emu, dir) => {
    const files = await csvFiles(dir, {
      'new.csv': [
        'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled',
        `insert,#microsoft.graph.user,,No Pass,nopass@${DOMAIN},nopass,true`,
      ],
    });
    const dry = await fulfill(dir, files, { dryRun: true });
    assert.is(dry.code, 3);
    assert.equal(dry.results.map(brief), ['2 failed ERR_ROW_INVALID']);
    assert.match(dry.results[0]!.message, 'no passwordProfile password and no --password-file was given');
    const real = await fulfill(dir, files);
    assert.equal(real.results.map(brief), dry.results.map(brief), 'the plan says what the run does');

    const given = await fulfill(dir, files, { dryRun: true, passwordFile: join(dir, 'pw.csv') });
    assert.equal(given.results.map(brief), ['2 planned']);
  }),
);

Dry('--dry-run resolves references with reads only, and fails the dangling ones', async () =>
  withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
    const files = await csvFiles(dir, {
      ...sameFile(),
      'more_members_group.csv': ['Command,groupId,id', `insert,nosuchgroup,${ADELE}`],
    });
    const before = emu.requests.length;
    const dry = await fulfill(dir, files, { dryRun: true, passwordFile: join(dir, 'pw.csv') });
    assert.is(dry.code, 3, dry.stderr);
    assert.equal(dry.results.at(-1)!.message, 'groupId: no group has mailNickname "nosuchgroup"');
    assert.ok(dry.results.slice(0, -1).every((r) => r.status === 'planned'));
    assert.is(
      dry.results[4]!.message,
      `POST /groups/kite/members/$ref {"@odata.id":"${emu.graphUrl}directoryObjects/ann@${DOMAIN}"} (kite is created on line 5 of ${files[0]}; ann@${DOMAIN} is created on line 2 of ${files[0]})`,
    );
    assert.match(dry.results[7]!.message, `POST /groups/${ENGINEERING}/members/$ref`);
    assert.match(dry.results[8]!.message, `directoryObjects/${ADELE}`);
    const sent = emu.requests.slice(before).filter((r) => r.path.startsWith('/v1.0/'));
    assert.ok(sent.length > 0, 'the dangling group was looked up');
    assert.ok(
      sent.every((r) => r.method === 'GET'),
      JSON.stringify(sent.map((r) => `${r.method} ${r.path}`)),
    );
    assert.equal(groupByNick(emu, 'kite'), [], 'nothing written');
  }),
);

Dry.run();
