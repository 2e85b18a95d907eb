import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { LinkRow, ObjectRow } from '../../src/sources/command-csv.js';
import {
  describeRequest,
  mailNicknameFrom,
  redactRequest,
  toRequest,
  type RequestPlan,
  type ToRequestOptions,
} from '../../src/streams/to-request.js';

const G1 = '11111111-1111-4111-8111-111111111111';
const G2 = '22222222-2222-4222-8222-222222222222';
const BASE = 'https://graph.microsoft.com/v1.0/';
const SECRET = 'Gen3rated!Secret#Pw';
const OPTIONS: ToRequestOptions = { graphBase: BASE, passwordSink: true, generatePassword: () => SECRET };

const object = (over: Partial<ObjectRow>): ObjectRow => ({
  kind: 'object',
  file: 'in.csv',
  line: 2,
  command: 'insert',
  entity: 'user',
  odataType: '#microsoft.graph.user',
  values: {},
  ...over,
});
const link = (over: Partial<LinkRow>): LinkRow => ({
  kind: 'link',
  file: 'x_members_group.csv',
  line: 2,
  command: 'insert',
  entity: 'group',
  navigation: 'members',
  ownerId: G1,
  targetId: G2,
  ...over,
});
const request = (plan: RequestPlan) => {
  if (plan.kind !== 'request') throw new Error(`${plan.kind}: ${'message' in plan ? plan.message : ''}`);
  return plan.request;
};
const ADELE = {
  accountEnabled: true,
  displayName: 'Adele Vance',
  mailNickname: 'AdeleV',
  userPrincipalName: 'AdeleV@contoso.com',
};

const ToRequest = suite('toRequest');

ToRequest('toRequest(insert user with a password) posts the values as they are', () => {
  const passwordProfile = { forceChangePasswordNextSignIn: false, password: 'xWwvJ]6NMw+bWH-d' };
  const plan = toRequest(object({ values: { ...ADELE, passwordProfile } }), {
    ...OPTIONS,
    passwordSink: false,
  });
  assert.equal(plan, {
    kind: 'request',
    request: {
      method: 'POST',
      url: '/users',
      body: { ...ADELE, passwordProfile },
      headers: { 'Content-Type': 'application/json' },
      objectKey: 'users/userPrincipalName=adelev@contoso.com',
      secretFields: ['passwordProfile.password'],
    },
  });
});

ToRequest('toRequest(insert user without a password) generates one and hands it over apart', () => {
  const plan = toRequest(object({ values: ADELE }), OPTIONS);
  assert.is(plan.kind, 'request');
  if (plan.kind !== 'request') return;
  assert.equal(plan.request.body, {
    ...ADELE,
    passwordProfile: { forceChangePasswordNextSignIn: true, password: SECRET },
  });
  assert.equal(plan.request.secretFields, ['passwordProfile.password']);
  assert.equal(plan.generatedPassword, {
    file: 'in.csv',
    line: 2,
    userPrincipalName: 'AdeleV@contoso.com',
    password: SECRET,
  });
});

ToRequest('toRequest(insert user, no password sink) is invalid without a password', () => {
  const plan = toRequest(object({ values: ADELE }), { ...OPTIONS, passwordSink: false });
  assert.equal(plan, {
    kind: 'invalid',
    column: 'passwordProfile',
    message: 'user AdeleV@contoso.com has no passwordProfile password and no --password-file was given',
  });
});

ToRequest('toRequest(insert user) names the missing required properties', () => {
  const plan = toRequest(object({ values: { displayName: 'A', mailNickname: null } }), OPTIONS);
  assert.equal(plan, {
    kind: 'invalid',
    column: 'accountEnabled',
    message: 'insert user misses required accountEnabled, mailNickname, userPrincipalName',
  });
});

ToRequest('toRequest(insert group) defaults a security group and derives mailNickname', () => {
  const plan = toRequest(
    object({
      entity: 'group',
      odataType: '#microsoft.graph.group',
      values: { displayName: 'Sales (EMEA): Team' },
    }),
    OPTIONS,
  );
  const r = request(plan);
  assert.equal(
    { method: r.method, url: r.url, body: r.body, objectKey: r.objectKey },
    {
      method: 'POST',
      url: '/groups',
      body: {
        displayName: 'Sales (EMEA): Team',
        securityEnabled: true,
        mailEnabled: false,
        groupTypes: [],
        mailNickname: 'SalesEMEATeam',
      },
      objectKey: 'groups/mailNickname=salesemeateam',
    },
  );
  assert.match(r.warning ?? '', 'without owners');
  assert.is(r.secretFields, undefined);
});

ToRequest('toRequest(insert group) keeps given values and refuses an underivable nickname', () => {
  const given = { displayName: 'M365', mailNickname: 'm365', groupTypes: ['Unified'], mailEnabled: true };
  const r = request(toRequest(object({ entity: 'group', values: given }), OPTIONS));
  assert.equal(r.body, { ...given, securityEnabled: true });
  const plan = toRequest(object({ entity: 'group', values: { displayName: '日本語 ()' } }), OPTIONS);
  assert.is(plan.kind === 'invalid' && plan.column, 'mailNickname');
  const none = toRequest(object({ entity: 'group', values: {} }), OPTIONS);
  assert.is(
    none.kind === 'invalid' && none.message,
    'insert group misses required displayName, mailNickname',
  );
});

ToRequest('toRequest(update) patches only the given cells, null included', () => {
  for (const [entity, collection] of [
    ['user', 'users'],
    ['group', 'groups'],
    ['servicePrincipal', 'servicePrincipals'],
  ] as const) {
    const plan = toRequest(
      object({ command: 'update', entity, id: G1, values: { displayName: 'X', notes: null } }),
      OPTIONS,
    );
    assert.equal(plan, {
      kind: 'request',
      request: {
        method: 'PATCH',
        url: `/${collection}/${G1}`,
        body: { displayName: 'X', notes: null },
        headers: { 'Content-Type': 'application/json' },
        objectKey: `${collection}/${G1}`,
      },
    });
  }
});

ToRequest('toRequest(update, no attribute) is a no-op, not a request', () => {
  assert.equal(toRequest(object({ command: 'update', id: G1 }), OPTIONS), {
    kind: 'noop',
    message: 'nothing to update: every attribute cell is empty',
  });
});

ToRequest('toRequest(update passwordProfile) marks the password secret', () => {
  const values = { passwordProfile: { password: 'N3w!Passw0rd#x', forceChangePasswordNextSignIn: true } };
  const r = request(toRequest(object({ command: 'update', id: G1, values }), OPTIONS));
  assert.equal(r.secretFields, ['passwordProfile.password']);
});

ToRequest('toRequest(delete) deletes the object, with no body', () => {
  assert.equal(toRequest(object({ command: 'delete', id: G1.toUpperCase() }), OPTIONS), {
    kind: 'request',
    request: { method: 'DELETE', url: `/users/${G1.toUpperCase()}`, objectKey: `users/${G1}` },
  });
  const group = request(toRequest(object({ command: 'delete', entity: 'group', id: G2 }), OPTIONS));
  assert.is(`${group.method} ${group.url}`, `DELETE /groups/${G2}`);
});

ToRequest('toRequest(link insert) posts a $ref to the directory object', () => {
  for (const [entity, navigation, collection] of [
    ['group', 'members', 'groups'],
    ['group', 'owners', 'groups'],
    ['directoryRole', 'members', 'directoryRoles'],
  ] as const) {
    assert.equal(toRequest(link({ entity, navigation }), OPTIONS), {
      kind: 'request',
      request: {
        method: 'POST',
        url: `/${collection}/${G1}/${navigation}/$ref`,
        body: { '@odata.id': `${BASE}directoryObjects/${G2}` },
        headers: { 'Content-Type': 'application/json' },
        objectKey:
          navigation === 'owners' ? `${collection}/${G1}/owners` : `${collection}/${G1}/${navigation}/${G2}`,
        sharedKeys: [`${collection}/${G1}`, `users/${G2}`, `groups/${G2}`, `servicePrincipals/${G2}`],
      },
    });
  }
});

ToRequest('toRequest(link delete) always ends in /$ref: never deletes the member itself', () => {
  for (const navigation of ['members', 'owners'] as const) {
    const r = request(toRequest(link({ command: 'delete', navigation }), OPTIONS));
    assert.is(`${r.method} ${r.url}`, `DELETE /groups/${G1}/${navigation}/${G2}/$ref`);
    assert.ok(r.url.endsWith('/$ref'));
    assert.is(r.body, undefined);
  }
});

ToRequest('toRequest(update/delete by key) holds the key a create holds; a group needs its id', () => {
  const byUpn = request(toRequest(object({ command: 'delete', id: 'Ann@Contoso.example' }), OPTIONS));
  assert.is(`${byUpn.method} ${byUpn.url}`, 'DELETE /users/Ann%40Contoso.example');
  assert.is(byUpn.objectKey, 'users/userPrincipalName=ann@contoso.example');
  assert.equal(
    byUpn.references?.map((r) => [r.key, r.direct]),
    [['users/userPrincipalName=ann@contoso.example', true]],
  );
  assert.is(byUpn.resolve!([G1]).url, `/users/${G1}`, 'an id learned in the run replaces the key');

  const group = request(
    toRequest(
      object({ command: 'update', entity: 'group', id: 'kite', values: { description: 'x' } }),
      OPTIONS,
    ),
  );
  assert.is(group.objectKey, 'groups/mailNickname=kite');
  assert.equal(
    group.references?.map((r) => [r.property, r.value, r.direct]),
    [['mailNickname', 'kite', undefined]],
  );
  const resolved = group.resolve!([G2]);
  assert.equal(
    [resolved.method, resolved.url, resolved.body],
    ['PATCH', `/groups/${G2}`, { description: 'x' }],
  );
  assert.is(resolved.objectKey, 'groups/mailNickname=kite');
});

ToRequest('toRequest(link by key) waits on the creates of the names, and resolves to ids', () => {
  const r = request(toRequest(link({ ownerId: 'kite', targetId: 'ann@contoso.example' }), OPTIONS));
  assert.equal(
    r.references?.map((ref) => `${ref.column} ${ref.key}`),
    ['groupId groups/mailNickname=kite', 'id users/userPrincipalName=ann@contoso.example'],
  );
  assert.is(r.objectKey, 'groups/mailNickname=kite/members/users/userPrincipalName=ann@contoso.example');
  assert.equal(r.sharedKeys, ['groups/mailNickname=kite', 'users/userPrincipalName=ann@contoso.example']);
  const resolved = r.resolve!([G1, G2]);
  assert.equal(
    [resolved.url, resolved.body],
    [`/groups/${G1}/members/$ref`, { '@odata.id': `${BASE}directoryObjects/${G2}` }],
  );
  // Only the side named by key is resolved.
  const one = request(toRequest(link({ command: 'delete', targetId: 'sub-team' }), OPTIONS));
  assert.equal(
    one.references?.map((ref) => ref.column),
    ['id'],
  );
  assert.is(one.resolve!([G2]).url, `/groups/${G1}/members/${G2}/$ref`);
  // A manager row: the read and the write use the ids.
  const manager = request(
    toRequest(
      link({ entity: 'user', navigation: 'manager', ownerId: 'ann@x.example', targetId: 'boss@x.example' }),
      OPTIONS,
    ),
  );
  assert.is(manager.objectKey, 'users/userPrincipalName=ann@x.example/manager');
  assert.is(manager.resolve!([G1, G2]).url, `/users/${G1}/manager?$select=id`);
});

ToRequest('toRequest(row, {graphBase}) adds a missing slash and refuses a relative base', () => {
  const r = request(toRequest(link({}), { ...OPTIONS, graphBase: 'https://127.0.0.1:8443/v1.0' }));
  assert.equal(r.body, { '@odata.id': `https://127.0.0.1:8443/v1.0/directoryObjects/${G2}` });
  assert.throws(
    () => toRequest(link({}), { ...OPTIONS, graphBase: 'v1.0/' }),
    (e: { code?: string }) => e.code === 'ERR_INVALID_OPTION',
  );
});

ToRequest.run();

// ---

const Describe = suite('describeRequest, redactRequest');

Describe('describeRequest(request) never shows a password', () => {
  const plan = toRequest(object({ values: ADELE }), OPTIONS);
  const r = request(plan);
  const line = describeRequest(r);
  assert.not.match(line, SECRET);
  assert.match(line, 'POST /users {"accountEnabled":true');
  assert.match(line, '"passwordProfile":{"forceChangePasswordNextSignIn":true,"password":"***"}');
  assert.not.match(JSON.stringify(redactRequest(r)), SECRET);
  assert.is(
    (r.body?.passwordProfile as { password: string }).password,
    SECRET,
    'the body itself is unchanged',
  );
});

Describe('describeRequest(request) hides password keys even when not listed as secret', () => {
  const line = describeRequest({
    method: 'PATCH',
    url: '/users/x',
    objectKey: 'k',
    body: { a: [{ password: 'p@ss' }] },
  });
  assert.is(line, 'PATCH /users/x {"a":[{"password":"***"}]}');
});

Describe('describeRequest(request) prints a bodiless request as method and url', () => {
  assert.is(
    describeRequest({ method: 'DELETE', url: `/users/${G1}`, objectKey: 'k' }),
    `DELETE /users/${G1}`,
  );
  assert.equal(redactRequest({ method: 'DELETE', url: '/u', objectKey: 'k' }), {
    method: 'DELETE',
    url: '/u',
  });
});

Describe.run();

// ---

const Nickname = suite('mailNicknameFrom');

Nickname('mailNicknameFrom(displayName) keeps only what Graph allows, 64 at most', () => {
  assert.is(
    mailNicknameFrom('Sales & Marketing <EMEA>, "2024"; [a]: b\\c @x'),
    'Sales&MarketingEMEA2024abcx',
  );
  assert.is(mailNicknameFrom('Élise Müller'), 'EliseMuller');
  assert.is(mailNicknameFrom('x'.repeat(100)).length, 64);
  assert.is(mailNicknameFrom('日本'), '');
});

Nickname.run();
