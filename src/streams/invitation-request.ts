import { registerSecret } from '../redact.js';
import type { NextStep, ObjectRow, Outcome, PlannedRequest, StepAnswer } from '../types.js';

/**
 * The requests of a user `insert` row that invites a guest (invitation-post.md): `POST /invitations`
 * with the row's invitation cells, then `PATCH /users/{invitedUser.id}` with the row's other user
 * attributes (what an invitation cannot set: department, usageLocation...). Graph makes the guest's
 * userPrincipalName (`mail_domain#EXT#@tenant`), so the row gives none, nor a password (a guest signs
 * in with their own account).
 *
 * A replay must not invite again: Graph would answer 201 for the same guest and send another mail with
 * a new redeem link. So the row is looked up first by its address (`lookupFirst: 'exists'`, see
 * find-created.ts); a guest found is `skipped`, and its attributes are read and written only where they
 * differ (`afterCreate`), which also finishes a row an earlier run cut short after the invitation.
 */

const JSON_HEADERS = { 'Content-Type': 'application/json' };
// Graph makes these for a guest: a row that gives one is a mistake, not something to drop in silence.
const MADE_BY_GRAPH: Record<string, string> = {
  userPrincipalName: "Graph makes a guest's userPrincipalName (mail_domain#EXT#@tenant)",
  mailNickname: "Graph makes a guest's mailNickname",
  passwordProfile: 'a guest signs in with their own account and has no password here',
};

export type InvitationPlan =
  { kind: 'request'; request: PlannedRequest } | { kind: 'invalid'; column: string; message: string };

/** The guest's id in an invitation's answer: `invitedUser.id` (some docs samples wrap it in an array). */
export function invitedUserId(body: unknown): string | undefined {
  const user = (body as { invitedUser?: unknown } | undefined)?.invitedUser;
  const first = Array.isArray(user) ? user[0] : user;
  const id = (first as { id?: unknown } | undefined)?.id;
  return typeof id === 'string' && id ? id : undefined;
}

/** JSON of `value` with object keys sorted: equal values give equal text whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)),
        )
      : v,
  );
}

/** The attributes of `wanted` whose values differ from the user Graph returned. */
function differing(
  wanted: Record<string, unknown>,
  current: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(wanted).filter(([k, v]) => canonical(v) !== canonical(current[k] ?? null)),
  );
}

/** The plan of an invitation row (`row.invitation` set, `null` cells already dropped from `row.values`). */
export function invitationRequest(row: ObjectRow): InvitationPlan {
  const invitation = row.invitation ?? {};
  const email = invitation.invitedUserEmailAddress;
  if (typeof email !== 'string')
    return {
      kind: 'invalid',
      column: 'invitedUserEmailAddress',
      message: `an invitation row (${Object.keys(invitation).join(', ')}) needs the guest's address in invitedUserEmailAddress`,
    };
  if (typeof invitation.inviteRedirectUrl !== 'string')
    return {
      kind: 'invalid',
      column: 'inviteRedirectUrl',
      message: `inviting ${email} needs inviteRedirectUrl, where Graph sends the guest after redeeming (e.g. https://myapps.microsoft.com)`,
    };
  const given = Object.keys(MADE_BY_GRAPH).find((k) => row.values[k] !== undefined);
  if (given)
    return {
      kind: 'invalid',
      column: given,
      message: `leave ${given} empty in a row that invites ${email}: ${MADE_BY_GRAPH[given]}`,
    };
  const { displayName, ...attributes } = row.values;
  const body: Record<string, unknown> = { ...invitation };
  if (body.invitedUserDisplayName === undefined && typeof displayName === 'string')
    body.invitedUserDisplayName = displayName;
  // A display name other than the invitation's is set on the guest afterwards, like any other attribute.
  if (displayName !== undefined && displayName !== body.invitedUserDisplayName)
    attributes.displayName = displayName;
  const objectKey = `invitations/${email.toLowerCase()}`;
  const names = Object.keys(attributes);
  const patch = (id: string, values: Record<string, unknown>): PlannedRequest => ({
    method: 'PATCH',
    url: `/users/${encodeURIComponent(id)}`,
    body: values,
    headers: { ...JSON_HEADERS },
    objectKey,
  });
  const invite: PlannedRequest = {
    method: 'POST',
    url: '/invitations',
    body,
    headers: { ...JSON_HEADERS },
    objectKey,
    ...(names.length ? { then: `PATCH /users/{invitedUser.id} ${JSON.stringify(attributes)}` } : {}),
    next: (answer: StepAnswer): NextStep | undefined => {
      // Graph's refusal (a bad address, no permission) is the row's outcome, with Graph's message.
      if (answer.status < 200 || answer.status >= 300) return undefined;
      const id = invitedUserId(answer.body);
      const info = answer.body as { inviteRedeemUrl?: unknown; status?: unknown } | undefined;
      if (!id)
        return {
          outcome: {
            status: 'failed',
            httpStatus: answer.status,
            errorCode: 'ERR_GRAPH_RESPONSE',
            message: `Graph accepted the invitation of ${email} but its answer names no invitedUser.id: look the guest up by mail`,
          },
        };
      const redeemUrl = typeof info?.inviteRedeemUrl === 'string' ? info.inviteRedeemUrl : undefined;
      // Known to the redactor before anything can print it: logs, errors, --verbose.
      registerSecret(redeemUrl);
      const carry: Partial<Outcome> = {
        status: 'ok',
        httpStatus: answer.status,
        newId: id,
        created: true,
        message: `invited ${email}${typeof info?.status === 'string' ? ` (${info.status})` : ''}`,
        ...(redeemUrl ? { redeemUrl } : {}),
      };
      if (!names.length) return { outcome: carry as Outcome };
      return { request: patch(id, attributes), carry };
    },
    // Found by its address (a replay, an earlier run): its attributes are read, and set where they differ.
    afterCreate: names.length
      ? (id: string): NextStep => {
          const read: PlannedRequest = {
            method: 'GET',
            url: `/users/${encodeURIComponent(id)}?$select=${names.join(',')}`,
            objectKey,
            next: (answer) => {
              if (answer.status !== 200) return undefined;
              const change = differing(attributes, (answer.body ?? {}) as Record<string, unknown>);
              if (!Object.keys(change).length)
                return {
                  outcome: {
                    status: 'skipped',
                    httpStatus: 200,
                    message: `nothing to do: ${names.join(', ')} already as given`,
                  },
                };
              return { request: { ...patch(id, change), retryFrom: read } };
            },
          };
          return { request: read };
        }
      : undefined,
  };
  return { kind: 'request', request: invite };
}
