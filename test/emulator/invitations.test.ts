import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { call, sampleTenant, withEmulator } from '../helpers/emulator.js';

const Invite = suite('handleInvitation');

Invite(
  'POST /invitations creates a guest pending acceptance and answers 201 with the invitation',
  async () => {
    await withEmulator({ tenant: await sampleTenant() }, async (emu) => {
      const r = await call(emu, 'POST', '/v1.0/invitations', {
        body: {
          invitedUserEmailAddress: 'ada@fabrikam.com',
          inviteRedirectUrl: 'https://myapp.contoso.com',
          invitedUserDisplayName: 'Ada',
        },
      });
      assert.is(r.status, 201, r.text);
      assert.is(r.json.status, 'PendingAcceptance');
      assert.is(r.json.invitedUserType, 'Guest');
      assert.match(r.json.inviteRedeemUrl, /^https:\/\//);
      const guest = emu.tenant.get(r.json.invitedUser.id)!;
      assert.is(guest.data.userPrincipalName, `ada_fabrikam.com#EXT#@${emu.tenant.domain}`);
      assert.is(guest.data.userType, 'Guest');
      assert.is(guest.data.externalUserState, 'PendingAcceptance');
      assert.is(guest.data.displayName, 'Ada');
      const again = await call(emu, 'POST', '/v1.0/invitations', {
        body: { invitedUserEmailAddress: 'ada@fabrikam.com', inviteRedirectUrl: 'https://myapp.contoso.com' },
      });
      // Graph invites the address again: the same guest, no second user.
      assert.is(again.status, 201, again.text);
      assert.is(again.json.invitedUser.id, r.json.invitedUser.id);
      assert.is(emu.tenant.list('user').filter((u) => u.data.mail === 'ada@fabrikam.com').length, 1);
      const missing = await call(emu, 'POST', '/v1.0/invitations', {
        body: { invitedUserEmailAddress: 'bob@fabrikam.com' },
      });
      assert.is(missing.status, 400);
    });
  },
);

Invite(
  'POST /invitations needs User.Invite.All (or User.ReadWrite.All, Directory.ReadWrite.All)',
  async () => {
    const body = {
      invitedUserEmailAddress: 'ada@fabrikam.com',
      inviteRedirectUrl: 'https://myapp.contoso.com',
    };
    await withEmulator({ tenant: await sampleTenant(), roles: ['User.Read.All'] }, async (emu) => {
      const r = await call(emu, 'POST', '/v1.0/invitations', { body });
      assert.is(r.status, 403);
      assert.is(r.json.error.code, 'Authorization_RequestDenied');
    });
    await withEmulator({ tenant: await sampleTenant(), roles: ['User.Invite.All'] }, async (emu) => {
      assert.is((await call(emu, 'POST', '/v1.0/invitations', { body })).status, 201);
    });
  },
);

Invite.run();
