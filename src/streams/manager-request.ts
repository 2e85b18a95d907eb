import type { LinkRow, NextStep, PlannedRequest, StepAnswer } from '../types.js';

/**
 * The requests of one `*_manager_user.csv` row (user-post-manager.md, user-delete-manager.md). A user
 * has one manager at most, and `DELETE /users/{id}/manager/$ref` removes whichever it is, so each row
 * reads the current manager first (`GET /users/{id}/manager?$select=id`, in the same `$batch` calls as
 * the writes) and writes only what the row asks: `insert` sets the manager unless it already is the
 * one named (`skipped`), `delete` removes it only when it is the one named (else `skipped`: another
 * manager is never removed by a stale row). The read and the write hold the user's manager key, so
 * rows of one user keep their input order.
 */

const JSON_HEADERS = { 'Content-Type': 'application/json' };

/** The current manager's id from the read: null for none; undefined when the answer says neither. */
function currentManager(answer: StepAnswer): string | null | undefined {
  if (answer.status === 404) return null;
  const id = (answer.body as { id?: unknown } | undefined)?.id;
  return answer.status === 200 && typeof id === 'string' ? id.toLowerCase() : undefined;
}

/** The read-then-write requests of a manager link row. */
export function managerRequest(row: LinkRow, graphBase: string): PlannedRequest {
  const user = encodeURIComponent(row.ownerId);
  const target = row.targetId.toLowerCase();
  const ownerKey = `users/${row.ownerId.toLowerCase()}`;
  const keys = { objectKey: `${ownerKey}/manager`, sharedKeys: [ownerKey, `users/${target}`] };
  const ref = `/users/${user}/manager/$ref`;
  const write: PlannedRequest =
    row.command === 'insert'
      ? {
          method: 'PUT',
          url: ref,
          body: { '@odata.id': `${graphBase}users/${row.targetId}` },
          headers: { ...JSON_HEADERS },
          ...keys,
        }
      : { method: 'DELETE', url: ref, ...keys };
  const read: PlannedRequest = {
    method: 'GET',
    url: `/users/${user}/manager?$select=id`,
    ...keys,
    then:
      row.command === 'insert'
        ? `PUT ${ref} {"@odata.id":"${graphBase}users/${row.targetId}"} unless it is already the manager`
        : `DELETE ${ref} if the manager is ${row.targetId}`,
    next: (answer): NextStep | undefined => {
      const current = currentManager(answer);
      // Another answer (403, 400...) is the row's outcome, with Graph's message.
      if (current === undefined) return undefined;
      const skipped = (message: string): NextStep => ({
        outcome: { status: 'skipped', httpStatus: answer.status, message: `nothing to do: ${message}` },
      });
      if (row.command === 'insert')
        return current === target
          ? skipped(`${row.targetId} is already the manager of ${row.ownerId}`)
          : { request: { ...write, retryFrom: read } };
      if (current === null) return skipped(`${row.ownerId} has no manager`);
      if (current !== target)
        return skipped(`the manager of ${row.ownerId} is ${current}, not ${row.targetId}`);
      return { request: { ...write, retryFrom: read } };
    },
  };
  return read;
}
