import { randomUUID } from 'node:crypto';
import { errors, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import type { DirectoryStore } from './store.js';

const EMAIL = /^[^@\s]+@[^@\s]+\.[^@\s]+$/;

/**
 * `POST /invitations` (invitation-post.md): invites an external user. Graph creates a guest user at
 * once (`userType` Guest, `externalUserState` PendingAcceptance, `creationType` Invitation, a
 * userPrincipalName `alias_domain#EXT#@tenant-domain`) and answers 201 with the invitation, whose
 * `inviteRedeemUrl` the guest opens to redeem it. An address invited before is invited again: the
 * same guest, a new redeem URL (no second user).
 */
export function handleInvitation(
  req: EmuRequest,
  root: string,
  store: DirectoryStore,
  now: () => number,
): EmuResponse {
  if (req.method !== 'POST') return errors.methodNotAllowed(req);
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const b = parsed.body;
  const email = b.invitedUserEmailAddress;
  if (typeof email !== 'string' || !EMAIL.test(email))
    return errors.badRequest(
      req,
      "Invalid value specified for property 'invitedUserEmailAddress' of resource 'Invitation'.",
    );
  if (typeof b.inviteRedirectUrl !== 'string' || !/^https?:\/\//i.test(b.inviteRedirectUrl))
    return errors.badRequest(
      req,
      "A value is required for property 'inviteRedirectUrl' of resource 'Invitation'.",
    );
  const alias = email.replace('@', '_');
  const upn = `${alias}#EXT#@${store.domains[0]}`;
  const stamp = new Date(now()).toISOString().replace(/\.\d+Z$/, 'Z');
  const displayName =
    typeof b.invitedUserDisplayName === 'string' && b.invitedUserDisplayName
      ? b.invitedUserDisplayName
      : email.split('@')[0]!;
  // Graph invites an address it invited before again (a new mail, a new redeem link) for the same guest.
  const existing = store.userByPrincipalName(upn);
  if (existing && existing.data.userType !== 'Guest') return errors.conflict(req, 'userPrincipalName');
  const user =
    existing ??
    store.create('user', {
      accountEnabled: true,
      createdDateTime: stamp,
      creationType: 'Invitation',
      displayName,
      externalUserState: 'PendingAcceptance',
      externalUserStateChangeDateTime: stamp,
      mail: email,
      mailNickname: `${alias}#EXT#`,
      otherMails: [email],
      userPrincipalName: upn,
      userType: b.invitedUserType === 'Member' ? 'Member' : 'Guest',
    });
  const id = randomUUID();
  const ticket = Buffer.from(`${id}:${user.id}`).toString('base64url');
  return {
    status: 201,
    body: {
      '@odata.context': `${root}/$metadata#invitations/$entity`,
      id,
      inviteRedeemUrl: `${root.replace(/\/[^/]+$/, '')}/redeem/?rd=${ticket}&tenantId=${store.tenantId}`,
      invitedUserDisplayName: typeof b.invitedUserDisplayName === 'string' ? b.invitedUserDisplayName : null,
      invitedUserEmailAddress: email,
      invitedUserMessageInfo: b.invitedUserMessageInfo ?? {
        ccRecipients: [],
        customizedMessageBody: null,
        messageLanguage: null,
      },
      inviteRedirectUrl: b.inviteRedirectUrl,
      invitedUserType: user.data.userType,
      resetRedemption: false,
      sendInvitationMessage: b.sendInvitationMessage === true,
      status: user.data.externalUserState === 'Accepted' ? 'Completed' : 'PendingAcceptance',
      invitedUser: { id: user.id },
    },
  };
}
