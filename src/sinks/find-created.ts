import { ToolError } from '../errors.js';
import type { GraphClient } from '../graph/client.js';
import type { PlannedRequest } from '../types.js';

/**
 * The id of the object a create would make, found by its userPrincipalName (users), mailNickname
 * (groups) or mail (invited guests): how fulfill tells a create that an earlier run or a lost answer already made. Undefined when
 * Graph says there is none or the create has no such key; ERR_GRAPH_LOOKUP when Graph cannot tell.
 * @example
 * const id = await findCreated(client, { method: "POST", url: "/users", body: { userPrincipalName }, objectKey });
 */
export async function findCreated(client: GraphClient, request: PlannedRequest): Promise<string | undefined> {
  const body = request.body ?? {};
  // Only "found" and "surely absent" are answers: a lookup that could not tell must not lead to a
  // create, which for a group would make a duplicate.
  const unsure = (status: number) =>
    new ToolError('ERR_GRAPH_LOOKUP', `looking the object up first failed: Graph answered ${status}`);
  if (request.url === '/users' && typeof body.userPrincipalName === 'string') {
    const r = await client.get<{ id?: string }>(
      `users/${encodeURIComponent(body.userPrincipalName)}?$select=id`,
      { throwHttpErrors: false },
    );
    if (r.status === 404) return undefined;
    if (r.status !== 200 || typeof r.body?.id !== 'string') throw unsure(r.status);
    return r.body.id;
  }
  if (request.url === '/groups' && typeof body.mailNickname === 'string') {
    const nick = body.mailNickname.replace(/'/g, "''");
    const r = await client.get<{ value?: { id: string }[] }>(
      `groups?$filter=${encodeURIComponent(`mailNickname eq '${nick}'`)}&$select=id`,
      { throwHttpErrors: false },
    );
    if (r.status !== 200 || !Array.isArray(r.body?.value)) throw unsure(r.status);
    return r.body.value[0]?.id;
  }
  if (request.url === '/invitations' && typeof body.invitedUserEmailAddress === 'string') {
    // An invited guest's mail is the address it was invited at (invitation-post.md).
    const mail = body.invitedUserEmailAddress.replace(/'/g, "''");
    const r = await client.get<{ value?: { id: string }[] }>(
      `users?$filter=${encodeURIComponent(`mail eq '${mail}'`)}&$select=id`,
      { throwHttpErrors: false },
    );
    if (r.status !== 200 || !Array.isArray(r.body?.value)) throw unsure(r.status);
    return r.body.value[0]?.id;
  }
  return undefined;
}
