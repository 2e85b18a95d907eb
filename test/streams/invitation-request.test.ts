import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { redact } from '../../src/redact.js';
import { decodeObjectRow } from '../../src/streams/decode-row.js';
import { invitationRequest, invitedUserId } from '../../src/streams/invitation-request.js';
import type { NextStep, ObjectRow, PlannedRequest } from '../../src/types.js';

const row = (values: Record<string, unknown>, invitation: Record<string, unknown>): ObjectRow => ({
  kind: 'object',
  file: 'guests.csv',
  line: 2,
  command: 'insert',
  entity: 'user',
  odataType: '#microsoft.graph.user',
  values,
  invitation,
});
const INVITE = {
  invitedUserEmailAddress: 'ada@fabrikam.com',
  inviteRedirectUrl: 'https://myapps.microsoft.com',
};

const Decode = suite('decodeObjectRow: invitation cells');

Decode('invitation cells go apart from the user values, typed', () => {
  const r = decodeObjectRow('user', {
    invitedUserEmailAddress: 'ada@fabrikam.com',
    inviteRedirectUrl: 'https://myapps.microsoft.com',
    sendInvitationMessage: 'TRUE',
    invitedUserType: 'member',
    invitedUserMessageInfo: '{"customizedMessageBody":"Welcome"}',
    department: 'Research',
  });
  assert.equal(r, {
    ok: true,
    values: { department: 'Research' },
    invitation: {
      invitedUserEmailAddress: 'ada@fabrikam.com',
      inviteRedirectUrl: 'https://myapps.microsoft.com',
      sendInvitationMessage: true,
      invitedUserType: 'Member',
      invitedUserMessageInfo: { customizedMessageBody: 'Welcome' },
    },
  });
  assert.equal(decodeObjectRow('user', { invitedUserEmailAddress: '', department: 'R' }), {
    ok: true,
    values: { department: 'R' },
  });
});

Decode('bad invitation cells fail the row with the column', () => {
  const bad = (cells: Record<string, string>) => {
    const r = decodeObjectRow('user', cells);
    return r.ok ? 'ok' : `${r.column}: ${r.message}`;
  };
  assert.match(bad({ invitedUserEmailAddress: 'ada at fabrikam' }), 'expected an email address');
  assert.match(bad({ inviteRedirectUrl: 'myapps.microsoft.com' }), 'expected an absolute http(s) URL');
  assert.match(bad({ sendInvitationMessage: 'yes' }), 'expected true or false');
  assert.match(bad({ invitedUserMessageInfo: '{"body":"x"}' }), 'not "body"');
  assert.match(bad({ invitedUserType: 'Owner' }), 'expected Guest or Member');
  assert.match(
    decodeObjectRow('group', { invitedUserEmailAddress: 'a@b.c' }).ok ? '' : 'refused',
    'refused',
    'groups are not invited',
  );
});

const Plan = suite('invitationRequest');

Plan('POST /invitations with the display name; the answer gives the guest id, then the PATCH', () => {
  const plan = invitationRequest(row({ displayName: 'Ada', department: 'Research' }, INVITE));
  assert.is(plan.kind, 'request');
  const request = (plan as { request: PlannedRequest }).request;
  assert.is(request.url, '/invitations');
  assert.equal(request.body, { ...INVITE, invitedUserDisplayName: 'Ada' });
  const url = 'https://login.example/redeem?rd=abcdef123456';
  const next = request.next!({
    status: 201,
    body: { id: 'inv-1', inviteRedeemUrl: url, status: 'PendingAcceptance', invitedUser: { id: 'guest-1' } },
  }) as Extract<NextStep, { request: PlannedRequest }>;
  assert.is(next.request.method, 'PATCH');
  assert.is(next.request.url, '/users/guest-1');
  assert.equal(next.request.body, { department: 'Research' });
  assert.is(next.carry?.newId, 'guest-1', 'the guest, not the invitation');
  assert.is(next.carry?.redeemUrl, url);
  assert.is(redact(`GET ${url}`), 'GET ***', 'known to the redactor');
  assert.is(request.next!({ status: 400, body: {} }), undefined, "Graph's refusal is the outcome");
});

Plan('a guest found: the attributes are read, and patched only where they differ', () => {
  const request = (
    invitationRequest(row({ department: 'Research', jobTitle: 'Fellow' }, INVITE)) as {
      request: PlannedRequest;
    }
  ).request;
  const read = (request.afterCreate!('guest-1') as { request: PlannedRequest }).request;
  assert.is(read.url, '/users/guest-1?$select=department,jobTitle');
  const same = read.next!({ status: 200, body: { department: 'Research', jobTitle: 'Fellow' } });
  assert.is((same as { outcome: { status: string } }).outcome.status, 'skipped');
  const differs = read.next!({ status: 200, body: { department: 'Research', jobTitle: null } }) as {
    request: PlannedRequest;
  };
  assert.equal(differs.request.body, { jobTitle: 'Fellow' });
  assert.is(invitationRequest(row({}, INVITE)).kind, 'request');
  assert.is(
    (invitationRequest(row({}, INVITE)) as { request: PlannedRequest }).request.afterCreate,
    undefined,
  );
});

Plan('rows Graph would refuse, or that give what Graph makes, are invalid', () => {
  const why = (values: Record<string, unknown>, invitation: Record<string, unknown>) => {
    const plan = invitationRequest(row(values, invitation));
    return plan.kind === 'invalid' ? `${plan.column}: ${plan.message}` : 'ok';
  };
  assert.match(why({}, { invitedUserEmailAddress: 'ada@fabrikam.com' }), /^inviteRedirectUrl: /);
  assert.match(why({}, { inviteRedirectUrl: 'https://x.example' }), /^invitedUserEmailAddress: /);
  assert.match(why({ userPrincipalName: 'ada@contoso.com' }, INVITE), /^userPrincipalName: leave/);
  assert.match(why({ passwordProfile: { password: 'x' } }, INVITE), /^passwordProfile: leave/);
});

Plan('invitedUserId reads an object or the array some docs samples show', () => {
  assert.is(invitedUserId({ invitedUser: { id: 'a' } }), 'a');
  assert.is(invitedUserId({ invitedUser: [{ id: 'b' }] }), 'b');
  assert.is(invitedUserId({ id: 'inv' }), undefined);
});

Decode.run();
Plan.run();
