/**
 * Conformance: Microsoft's Kiota-generated TypeScript SDK (`@microsoft/msgraph-sdk`,
 * `@microsoft/msgraph-sdk-users`, an @azure/identity credential) against the emulator, unchanged and
 * configured only through its public options (test/helpers/conformance/kiota-sdk.ts): list and
 * nextLinks, a delta round over `delta()` and its deltaLink, create, patch, typed ODataErrors, group
 * `$ref` writes and a `graph.user` cast through the request adapter, the manager reference.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { runSdkProgram } from '../helpers/conformance/run-program.js';
import { sampleTenant } from '../helpers/emulator.js';
import { testTls } from '../helpers/identity-server.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const DIEGO = '18a81770-9b9b-5140-aba6-2d659dc26e32';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';

const Sdk = suite<{ emu: Emulator; out: Record<string, any> }>('Kiota TypeScript SDK', {
  emu: undefined as unknown as Emulator,
  out: {},
});

Sdk.before(async (context) => {
  context.emu = await startEmulator({
    tenant: await sampleTenant(),
    throttle: false,
    tls: testTls(),
    faults: [{ kind: 'status', status: 429, retryAfter: 1, match: `GET /v1.0/users/${ALEX}`, count: 1 }],
  });
  context.out = await runSdkProgram(context.emu, 'kiota-sdk', {
    group: SALES,
    user: ADELE,
    other: DIEGO,
    throttled: ALEX,
    domain: context.emu.tenant.domain,
  });
});

Sdk.after(async (context) => {
  await context.emu?.close();
});

Sdk('users.get() with top pages over odataNextLink to every user', ({ emu, out }) => {
  const { value } = out.listUsers;
  assert.ok(value, JSON.stringify(out.listUsers));
  // The program lists before it creates a user.
  const before = emu.tenant.list('user').filter((u) => u.id !== out.create.value?.id);
  assert.equal([...value.ids].sort(), before.map((u) => u.id).sort());
  assert.is(value.pages, Math.ceil(before.length / 4));
});

Sdk('users.delta.get() calls /users/delta(); its odataDeltaLink shows a patch made after', ({ out }) => {
  const { value } = out.deltaRound;
  assert.ok(value, JSON.stringify(out.deltaRound));
  assert.ok(value.initial >= 14);
  assert.match(value.deltaLink, /\$deltatoken=/);
  assert.equal(value.changes, [{ id: ADELE, displayName: 'Adele Vance', jobTitle: 'Kiota tester' }]);
});

Sdk('users.post() creates a user (201 body parsed); patch() then get() read it back', ({ emu, out }) => {
  const { value } = out.create;
  assert.ok(value, JSON.stringify(out.create));
  assert.is(value.displayName, 'Kiota Created');
  assert.is(value.department, 'Conformance');
  assert.is(value.userType, 'Member');
  assert.ok(emu.tenant.get(value.id));
});

Sdk('errors come back as typed ODataErrors: status, code, message, conflict details', ({ out }) => {
  assert.equal(out.conflict.error, {
    typed: true,
    status: 400,
    code: 'Request_BadRequest',
    message: 'Another object with the same value for property userPrincipalName already exists.',
    details: [{ code: 'ObjectConflict', target: 'userPrincipalName' }],
  });
  assert.equal([out.notFound.error.status, out.notFound.error.code], [404, 'Request_ResourceNotFound']);
  assert.equal([out.badSelect.error.status, out.badSelect.error.code], [400, 'Request_BadRequest']);
  assert.equal([out.throttled.error.status, out.throttled.error.code], [429, 'TooManyRequests']);
  for (const e of [out.notFound, out.badSelect, out.throttled]) assert.ok(e.error.typed);
});

Sdk(
  'the request adapter adds and removes a group member with $ref and reads members/graph.user',
  ({ emu, out }) => {
    const { value } = out.refs;
    assert.ok(value, JSON.stringify(out.refs));
    assert.is(value.added, true);
    assert.equal([value.again.error.status, value.again.error.code], [400, 'Request_BadRequest']);
    assert.is(value.removed, true);
    assert.not.ok(emu.tenant.links(SALES, 'members').includes(DIEGO));
  },
);

Sdk('the request adapter reads /groups/delta() to a deltaLink', ({ emu, out }) => {
  assert.is(out.groupsDelta.value.count, emu.tenant.list('group').length);
  assert.match(out.groupsDelta.value.link, /\/groups\/delta\?\$deltatoken=/);
});

Sdk('manager.ref.put() sets the manager; manager.get() reads it back typed', ({ out }) => {
  assert.equal(out.manager.value, { id: DIEGO, type: '#microsoft.graph.user' });
});

Sdk.run();
