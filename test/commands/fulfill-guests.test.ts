import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { ResultRow } from '../../src/types.js';
import { call, sampleTenant } from '../helpers/emulator.js';
import { csvFiles, exportCsv, fulfill, withWork } from '../helpers/fulfill-harness.js';

const brief = (r: ResultRow) =>
  `${r.line} ${r.status}${r.httpStatus ? ` ${r.httpStatus}` : ''}${r.errorCode ? ` ${r.errorCode}` : ''}`;

const HEADER =
  'Command,@odata.type,id,invitedUserEmailAddress,inviteRedirectUrl,sendInvitationMessage,displayName,department,userPrincipalName';
const SELECT = ['user=displayName,userPrincipalName,userType,externalUserState,mail,department'];

const Guests = suite('fulfillCommand: guests');

Guests(
  'fulfillCommand(invitedUserEmailAddress cells) invites guests: newId is the guest, attributes set after, bad rows fail alone, a replay is skipped, the export shows the guests',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      await exportCsv(dir, SELECT);
      const files = await csvFiles(dir, {
        'guests.csv': [
          HEADER,
          'insert,#microsoft.graph.user,,ada@fabrikam.com,https://myapps.microsoft.com,false,Ada Lovelace,Research,',
          'insert,#microsoft.graph.user,,bob@fabrikam.com,https://myapps.microsoft.com,,,,',
          // Graph refuses the address (no dot in its domain): Graph's message
          'insert,#microsoft.graph.user,,carol@fabrikam,https://myapps.microsoft.com,,,,',
          // no redirect URL: refused before anything is sent
          'insert,#microsoft.graph.user,,dan@fabrikam.com,,,,,',
          // Graph makes a guest's userPrincipalName
          'insert,#microsoft.graph.user,,erin@fabrikam.com,https://myapps.microsoft.com,,,,erin@contoso.com',
          // invitation cells on an update
          'update,#microsoft.graph.user,67aac11c-c912-5793-a9a1-f31f5b0f94f5,frank@fabrikam.com,,,,,',
        ],
      });
      const invitations = () => emu.requests.filter((r) => r.path.endsWith('/invitations')).length;
      const first = await fulfill(dir, files, { verbose: true, quiet: false });
      assert.is(first.code, 3, first.stderr);
      assert.equal(first.results.map(brief), [
        '2 ok 204',
        '3 ok 201',
        '4 failed 400 Request_BadRequest',
        '5 failed ERR_ROW_INVALID',
        '6 failed ERR_ROW_INVALID',
        '7 failed ERR_ROW_INVALID',
      ]);
      assert.is(invitations(), 3);
      const [ada, bob] = first.results;
      const guest = emu.tenant.get(ada!.newId)!;
      assert.ok(guest, 'newId is the invited user');
      assert.is(guest.data.userType, 'Guest');
      assert.is(guest.data.externalUserState, 'PendingAcceptance');
      assert.is(guest.data.userPrincipalName, `ada_fabrikam.com#EXT#@${emu.tenant.domain}`);
      assert.is(guest.data.displayName, 'Ada Lovelace');
      assert.is(guest.data.department, 'Research', 'set after the invitation');
      assert.is(ada!.message, 'invited ada@fabrikam.com (PendingAcceptance)');
      assert.is(emu.tenant.get(bob!.newId)!.data.mail, 'bob@fabrikam.com');
      assert.is(
        first.results[2]!.message,
        "Invalid value specified for property 'invitedUserEmailAddress' of resource 'Invitation'.",
      );
      assert.match(
        first.results[3]!.message,
        'inviteRedirectUrl: inviting dan@fabrikam.com needs inviteRedirectUrl',
      );
      assert.match(first.results[4]!.message, 'userPrincipalName: leave userPrincipalName empty');
      assert.match(first.results[5]!.message, 'invitation cells are for insert rows');
      // The redeem links are credentials: not in the results without --redeem-urls, nor in --verbose.
      assert.not.ok('inviteRedeemUrl' in ada!);
      assert.not.match(first.stderr, /redeem\/\?/);

      const changes = await exportCsv(dir, SELECT);
      assert.equal(
        changes
          .directoryobjects!.map(
            (r) => `${r.Command} ${r.id} ${r.userType} ${r.externalUserState} ${r.mail} ${r.department}`,
          )
          .sort(),
        [
          `update ${ada!.newId} Guest PendingAcceptance ada@fabrikam.com Research`,
          `update ${bob!.newId} Guest PendingAcceptance bob@fabrikam.com `,
        ].sort(),
      );

      const users = emu.tenant.list('user').length;
      const replay = await fulfill(dir, files);
      assert.equal(replay.results.map(brief).slice(0, 3), [
        '2 skipped 200',
        '3 skipped 200',
        '4 failed 400 Request_BadRequest',
      ]);
      assert.is(replay.results[0]!.newId, ada!.newId);
      assert.is(replay.results[1]!.newId, bob!.newId);
      assert.match(replay.results[0]!.message, 'already exists: found by its mail');
      assert.match(replay.results[0]!.message, 'nothing to do: department already as given');
      assert.is(invitations(), 4, 'only the refused address is sent again');
      assert.is(emu.tenant.list('user').length, users, 'no second guest');
      assert.equal((await exportCsv(dir, SELECT)).directoryobjects ?? [], [], 'nothing changed');
    }),
);

Guests(
  'fulfillCommand(--redeem-urls) writes the redeem URL to a 0600 results file only; never to the journal; refused without --results FILE',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const files = await csvFiles(dir, {
        'guests.csv': [
          'Command,@odata.type,id,invitedUserEmailAddress,inviteRedirectUrl,invitedUserDisplayName',
          'insert,#microsoft.graph.user,,grace@fabrikam.com,https://myapps.microsoft.com,Grace',
        ],
      });
      const journal = join(dir, 'run.journal');
      const r = await fulfill(dir, files, { redeemUrls: true, journal, verbose: true, quiet: false });
      assert.is(r.code, 0, r.stderr);
      const url = r.results[0]!.inviteRedeemUrl!;
      assert.match(url, /^https:\/\/.+\/redeem\/\?rd=/);
      assert.ok(emu.tenant.get(r.results[0]!.newId), 'newId is the guest');
      assert.is((await stat(join(dir, 'results.csv'))).mode & 0o777, 0o600);
      assert.not.ok(r.stderr.includes(url), 'not in the logs');
      assert.not.ok((await readFile(journal, 'utf8')).includes('redeem'), 'not in the journal');

      // A rerun with the journal: done in the earlier run, not invited again, no URL to give.
      const again = await fulfill(dir, files, { redeemUrls: true, journal });
      assert.is(again.results[0]!.status, 'ok');
      assert.match(again.results[0]!.message, '(journal)');
      assert.is(again.results[0]!.inviteRedeemUrl, '');

      const toStdout = await fulfill(dir, files, { redeemUrls: true, results: '-' });
      assert.is(toStdout.error?.code, 'ERR_USAGE');
      assert.match(toStdout.error!.message, '--redeem-urls needs --results FILE');
    }),
);

Guests(
  'fulfillCommand(--dry-run) plans the invitation and what follows it, looks the address up, and checks the rows',
  async () =>
    withWork({ tenant: await sampleTenant() }, async (emu, dir) => {
      const bob = await call(emu, 'POST', '/v1.0/invitations', {
        body: {
          invitedUserEmailAddress: 'bob@fabrikam.com',
          inviteRedirectUrl: 'https://myapps.microsoft.com',
        },
      });
      assert.is(bob.status, 201, bob.text);
      const files = await csvFiles(dir, {
        'guests.csv': [
          HEADER,
          'insert,#microsoft.graph.user,,ada@fabrikam.com,https://myapps.microsoft.com,true,Ada,Research,',
          'insert,#microsoft.graph.user,,dan@fabrikam.com,,,,,',
          'insert,#microsoft.graph.user,,bob@fabrikam.com,https://myapps.microsoft.com,,,,',
        ],
      });
      const sent = emu.requests.filter((q) => q.path.endsWith('/invitations')).length;
      const r = await fulfill(dir, files, { dryRun: true });
      assert.is(r.code, 3, r.stderr);
      assert.equal(r.results.map(brief), ['2 planned', '3 failed ERR_ROW_INVALID', '4 skipped 200']);
      assert.is(
        r.results[0]!.message,
        'POST /invitations {"invitedUserEmailAddress":"ada@fabrikam.com","inviteRedirectUrl":"https://myapps.microsoft.com","sendInvitationMessage":true,"invitedUserDisplayName":"Ada"}, then PATCH /users/{invitedUser.id} {"department":"Research"}',
      );
      assert.is(r.results[2]!.message, 'already exists: found by its mail');
      assert.is(r.results[2]!.newId, bob.json.invitedUser.id);
      assert.is(emu.requests.filter((q) => q.path.endsWith('/invitations')).length, sent, 'nothing sent');
    }),
);

Guests.run();
