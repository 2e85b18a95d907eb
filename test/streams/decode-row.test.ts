import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { findProperty, type EntityName } from '../../src/graph/schema.js';
import {
  decodeCell,
  decodeObjectRow,
  describeForms,
  isGuid,
  nameForm,
  quoteCell,
  unwritableReason,
} from '../../src/streams/decode-row.js';

const prop = (name: string, entity: EntityName = 'user') => {
  const p = findProperty(entity, name);
  if (!p) throw new Error(`no ${entity}.${name}`);
  return p;
};
const ok = (cell: string, name: string, entity?: EntityName) => {
  const r = decodeCell(cell, prop(name, entity));
  if (!r.ok) throw new Error(r.message);
  return r.value;
};
const fail = (cell: string, name: string, entity?: EntityName) => {
  const r = decodeCell(cell, prop(name, entity));
  if (r.ok) throw new Error(`decoded ${JSON.stringify(r.value)}`);
  return r.message;
};

const DecodeCell = suite('decodeCell');

DecodeCell('decodeCell("", p) is absent and "null" clears', () => {
  assert.is(ok('', 'jobTitle'), undefined);
  assert.is(ok('null', 'jobTitle'), null);
  assert.equal(ok('null', 'businessPhones'), [], 'a collection is cleared by an empty one');
});

DecodeCell('decodeCell("null", p) refuses what Graph cannot clear', () => {
  assert.match(fail('null', 'displayName'), 'column displayName: cannot be cleared');
  assert.match(fail('null', 'accountEnabled'), 'cannot be cleared');
  assert.match(fail('null', 'deviceEnrollmentLimit'), 'cannot be cleared');
});

DecodeCell('decodeCell(cell, Edm.Boolean) takes true/false in any case, nothing else', () => {
  assert.is(ok('true', 'accountEnabled'), true);
  assert.is(ok('FALSE', 'accountEnabled'), false);
  assert.is(ok('True', 'accountEnabled'), true);
  assert.is(fail('yes', 'accountEnabled'), 'column accountEnabled: expected true or false, found "yes"');
  assert.match(fail('1', 'accountEnabled'), 'expected true or false');
  assert.match(fail(' true', 'accountEnabled'), 'expected true or false');
});

DecodeCell('decodeCell(cell, Edm.Int32) takes JSON integers in range only', () => {
  assert.is(ok('42', 'deviceEnrollmentLimit'), 42);
  assert.is(ok('-7', 'deviceEnrollmentLimit'), -7);
  for (const bad of ['4.5', '0x10', '1e99', '2147483648', '', ' 1', '01', 'NaN']) {
    if (bad === '') continue;
    assert.match(fail(bad, 'deviceEnrollmentLimit'), 'expected a whole number', bad);
  }
});

DecodeCell('decodeCell(cell, Edm.String) keeps the cell as it is', () => {
  assert.is(ok('  Sales, "EMEA"\n', 'jobTitle'), '  Sales, "EMEA"\n');
  assert.is(ok('true', 'jobTitle'), 'true');
});

DecodeCell('decodeCell(cell, Edm.DateTimeOffset) takes ISO 8601 with a zone, real dates only', () => {
  assert.is(ok('2024-05-01T08:00:00Z', 'employeeHireDate'), '2024-05-01T08:00:00Z');
  assert.is(ok('2024-05-01T08:00:00.1234567+02:00', 'employeeHireDate'), '2024-05-01T08:00:00.1234567+02:00');
  for (const bad of [
    '2024-05-01',
    '2024-05-01T08:00:00',
    '2024-02-30T00:00:00Z',
    '2024-05-01T25:00:00Z',
    'May 1',
  ])
    assert.match(fail(bad, 'employeeHireDate'), 'expected an ISO 8601 date-time', bad);
});

DecodeCell('decodeCell(cell, Edm.Guid) validates GUIDs', () => {
  const g = 'b7d8e648-520f-41d3-b9c0-fdeb91768a0a';
  assert.is(ok(g, 'appOwnerOrganizationId', 'servicePrincipal'), g);
  assert.match(
    fail('b7d8e648', 'appOwnerOrganizationId', 'servicePrincipal'),
    'expected a GUID, found "b7d8e648"',
  );
});

DecodeCell('decodeCell(cell, collection) takes a JSON array of the element type', () => {
  assert.equal(ok('["+1 425 555 0109"]', 'businessPhones'), ['+1 425 555 0109']);
  assert.equal(ok('[]', 'otherMails'), []);
  assert.match(fail('+1 425 555 0109', 'businessPhones'), 'expected a JSON array of string items in JSON');
  assert.match(fail('"x"', 'businessPhones'), 'column businessPhones: expected a JSON array');
  assert.match(fail('[1]', 'businessPhones'), 'column businessPhones[0]: expected a string');
  assert.match(fail('[null]', 'otherMails'), 'null is not allowed');
});

DecodeCell('decodeCell(cell, complex) takes a JSON object whose keys the type has', () => {
  assert.equal(ok('{"division":"R&D","costCenter":"42"}', 'employeeOrgData'), {
    division: 'R&D',
    costCenter: '42',
  });
  assert.match(
    fail('{"divison":"R&D"}', 'employeeOrgData'),
    'has no property "divison" (it has costCenter, division)',
  );
  assert.match(fail('[]', 'employeeOrgData'), 'expected a JSON object');
  assert.match(fail('{"division":3}', 'employeeOrgData'), 'employeeOrgData.division: expected a string');
  assert.equal(
    ok('[{"signInType":"userName","issuer":"contoso.com","issuerAssignedId":"j"}]', 'identities'),
    [{ signInType: 'userName', issuer: 'contoso.com', issuerAssignedId: 'j' }],
  );
});

DecodeCell('decodeCell(cell, enum) checks the members and normalises their case', () => {
  assert.is(ok('private', 'accessType', 'group'), 'private');
  assert.is(ok('PRIVATE', 'accessType', 'group'), 'private');
  assert.match(fail('hidden', 'accessType', 'group'), /expected one of .*private/);
});

DecodeCell('decodeCell(cell, passwordProfile) never quotes the cell in its message', () => {
  const message = fail('{"password":"S3cret!Pa55word","bad', 'passwordProfile');
  assert.not.match(message, 'S3cret');
  assert.match(message, 'a value of 34 characters');
  const typed = fail(
    '{"password":"S3cret!Pa55word","forceChangePasswordNextSignIn":"yes"}',
    'passwordProfile',
  );
  assert.not.match(typed, 'S3cret');
});

DecodeCell('decodeCell(long cell) truncates it in the message', () => {
  const message = fail('x'.repeat(500), 'accountEnabled');
  assert.ok(message.length < 120, message);
  assert.match(message, 'xxx…"');
});

DecodeCell.run();

// ---

const DecodeObjectRow = suite('decodeObjectRow');

DecodeObjectRow('decodeObjectRow(entity, cells) keeps only non-empty cells, decoded', () => {
  assert.equal(
    decodeObjectRow('user', {
      displayName: 'Adele',
      jobTitle: '',
      accountEnabled: 'true',
      mobilePhone: 'null',
    }),
    {
      ok: true,
      values: { displayName: 'Adele', accountEnabled: true, mobilePhone: null },
    },
  );
});

DecodeObjectRow('decodeObjectRow(entity, cells) fails on the first bad column', () => {
  assert.equal(decodeObjectRow('group', { displayName: 'G', accountEnabled: 'true' }), {
    ok: false,
    column: 'accountEnabled',
    message: 'column accountEnabled is not a property of group',
  });
  const bad = decodeObjectRow('user', { accountEnabled: 'maybe' });
  assert.is(bad.ok || bad.column, 'accountEnabled');
});

DecodeObjectRow('decodeObjectRow(entity, cells) refuses a read-only cell for this entity only', () => {
  assert.is(decodeObjectRow('user', { mail: 'a@contoso.com' }).ok, true);
  const group = decodeObjectRow('group', { mail: 'a@contoso.com' });
  assert.is(group.ok ? '' : group.message, 'column mail is read-only on group');
});

DecodeObjectRow.run();

// ---

const Helpers = suite('unwritableReason, isGuid, quoteCell');

Helpers('unwritableReason(entity, name) says why a column cannot be written', () => {
  assert.is(unwritableReason('user', 'displayName'), undefined);
  assert.is(unwritableReason('user', 'extension_b7d8e648520f41d3b9c0fdeb91768a0a_x'), undefined);
  assert.match(unwritableReason('user', 'DisplayName') ?? '', 'did you mean displayName?');
  assert.match(unwritableReason('user', 'createdDateTime') ?? '', 'read-only');
  assert.match(unwritableReason('user', 'skills') ?? '', 'single-object GET');
  assert.match(unwritableReason('group', 'owners') ?? '', '*_owners_group.csv link file');
});

Helpers('nameForm(value, forms) tells an id, a userPrincipalName and a mailNickname apart', () => {
  const all = ['id', 'userPrincipalName', 'mailNickname'] as const;
  assert.is(nameForm('B7D8E648-520F-41D3-B9C0-FDEB91768A0A', all), 'id');
  assert.is(nameForm('AdeleV@contoso.onmicrosoft.com', all), 'userPrincipalName');
  assert.is(nameForm('ann_mail.example#EXT#@contoso.onmicrosoft.com', all), 'userPrincipalName');
  assert.is(nameForm('project-kite', all), 'mailNickname');
  for (const bad of [
    'not an upn',
    'a@b',
    'a@@b.example',
    'x@y.example ',
    'b7d8e648-520f-41d3-b9c0',
    'a(b)',
    '',
    'x'.repeat(65),
  ])
    assert.is(nameForm(bad, all), undefined, bad);
  assert.is(nameForm('kite', ['id', 'userPrincipalName']), undefined, 'not a form the column takes');
  assert.is(describeForms(['id']), 'a GUID');
  assert.is(describeForms(all), 'a GUID, a userPrincipalName or a mailNickname');
});

Helpers('isGuid(value) takes the 8-4-4-4-12 form in any case', () => {
  assert.ok(isGuid('B7D8E648-520F-41D3-B9C0-FDEB91768A0A'));
  assert.not.ok(isGuid('{b7d8e648-520f-41d3-b9c0-fdeb91768a0a}'));
  assert.not.ok(isGuid('b7d8e648520f41d3b9c0fdeb91768a0a'));
});

Helpers('quoteCell(cell, max) quotes and cuts', () => {
  assert.is(quoteCell('a"b'), '"a\\"b"');
  assert.is(quoteCell('abcdef', 3), '"abc…"');
});

Helpers.run();
