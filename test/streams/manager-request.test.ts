import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { managerRequest } from '../../src/streams/manager-request.js';
import { describeRequest } from '../../src/streams/to-request.js';
import type { LinkRow, NextStep } from '../../src/types.js';

const GRAPH = 'https://graph.microsoft.com/v1.0/';
const U = '11111111-1111-4111-8111-111111111111';
const A = '22222222-2222-4222-8222-222222222222';
const B = '33333333-3333-4333-8333-333333333333';

const row = (command: 'insert' | 'delete', targetId = A): LinkRow => ({
  kind: 'link',
  file: 'Contoso_manager_user.csv',
  line: 2,
  command,
  entity: 'user',
  navigation: 'manager',
  ownerId: U,
  targetId,
});

/** What the row does when the read answers `status` with the manager `id`. */
function after(command: 'insert' | 'delete', status: number, id?: string): NextStep | undefined {
  const read = managerRequest(row(command), GRAPH);
  return read.next!({ status, ...(id ? { body: { id } } : {}) });
}

const describe = (step: NextStep | undefined) =>
  step === undefined
    ? 'default'
    : 'outcome' in step
      ? `${step.outcome.status}: ${step.outcome.message}`
      : `${step.request.method} ${step.request.url}`;

const Manager = suite('managerRequest');

Manager("managerRequest(row) reads the manager first, holding the user's manager key", () => {
  const read = managerRequest(row('insert'), GRAPH);
  assert.is(read.method, 'GET');
  assert.is(read.url, `/users/${U}/manager?$select=id`);
  assert.is(read.objectKey, `users/${U}/manager`);
  assert.equal(read.sharedKeys, [`users/${U}`, `users/${A}`]);
  assert.is(
    describeRequest(read),
    `GET /users/${U}/manager?$select=id, then PUT /users/${U}/manager/$ref {"@odata.id":"${GRAPH}users/${A}"} unless it is already the manager`,
  );
});

Manager('managerRequest(insert) sets the manager unless it already is the one named', () => {
  assert.is(describe(after('insert', 404)), `PUT /users/${U}/manager/$ref`);
  assert.is(describe(after('insert', 200, B)), `PUT /users/${U}/manager/$ref`);
  assert.is(
    describe(after('insert', 200, A.toUpperCase())),
    `skipped: nothing to do: ${A} is already the manager of ${U}`,
  );
  const put = after('insert', 404) as { request: { body: unknown; retryFrom?: { method: string } } };
  assert.equal(put.request.body, { '@odata.id': `${GRAPH}users/${A}` });
  assert.is(put.request.retryFrom?.method, 'GET', 'a retry reads again');
});

Manager('managerRequest(delete) removes the manager only when it is the one named', () => {
  assert.is(describe(after('delete', 200, A)), `DELETE /users/${U}/manager/$ref`);
  assert.is(describe(after('delete', 404)), `skipped: nothing to do: ${U} has no manager`);
  assert.is(
    describe(after('delete', 200, B)),
    `skipped: nothing to do: the manager of ${U} is ${B}, not ${A}`,
  );
});

Manager('managerRequest(row) leaves any other answer of the read to the outcome policy', () => {
  assert.is(after('insert', 403), undefined);
  assert.is(after('delete', 400), undefined);
});

Manager.run();
