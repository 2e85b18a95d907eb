/**
 * Conformance: Microsoft's Graph JavaScript SDK v3 (`@microsoft/microsoft-graph-client`) against the
 * emulator, unchanged and configured only through its public options (test/helpers/conformance/
 * graph-js-sdk.ts). Each test checks one thing the SDK did: PageIterator over lists and delta with
 * getDeltaLink, BatchRequestContent/BatchResponseContent with JSON bodies, GraphError for 400, 401,
 * 404 and 429.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulator, type Emulator } from '../../src/emulator/server.js';
import { runSdkProgram } from '../helpers/conformance/run-program.js';
import { sampleTenant } from '../helpers/emulator.js';
import { testTls } from '../helpers/identity-server.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';
const ALEX = '61e819da-5315-53df-9f8a-120348247c6b';
const SALES = 'ac4fe6cf-4d57-5875-9f7f-ff77f74f10de';

const Sdk = suite<{ emu: Emulator; out: Record<string, any> }>('Graph JavaScript SDK v3', {
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
  context.out = await runSdkProgram(context.emu, 'graph-js-sdk', {
    group: SALES,
    user: ADELE,
    throttled: ALEX,
  });
});

Sdk.after(async (context) => {
  await context.emu?.close();
});

Sdk('PageIterator walks GET /users?$top=4 over nextLinks to every user', ({ emu, out }) => {
  assert.equal(
    out.listUsers.value.ids.sort(),
    emu.tenant
      .list('user')
      .map((u) => u.id)
      .sort(),
  );
});

Sdk('PageIterator walks /groups/{id}/members?$top=2 with @odata.type on each member', ({ emu, out }) => {
  assert.equal(out.listMembers.value.ids.sort(), emu.tenant.links(SALES, 'members').sort());
  assert.ok(out.listMembers.value.types.every((t: string) => t === '#microsoft.graph.user'));
});

Sdk(
  'PageIterator runs a users delta round; getDeltaLink() starts the next, which shows a PATCH',
  ({ out }) => {
    const { value } = out.deltaRound;
    assert.ok(value, JSON.stringify(out.deltaRound));
    assert.ok(value.initial >= 14);
    assert.match(value.deltaLink, /\/v1\.0\/users\/delta\?\$deltatoken=/);
    assert.equal(value.changes, [{ displayName: 'Adele Vance', jobTitle: 'Conformance tester', id: ADELE }]);
    assert.ok(value.next && value.next !== value.deltaLink);
  },
);

Sdk('PageIterator runs a groups delta round with members@delta', ({ emu, out }) => {
  assert.match(out.groupsDelta.value.deltaLink, /\/groups\/delta\?\$deltatoken=/);
  assert.equal(out.groupsDelta.value.members.sort(), emu.tenant.links(SALES, 'members').sort());
});

Sdk(
  'BatchResponseContent parses JSON item bodies; the PATCH ran; text/plain $count reads as text',
  ({ out }) => {
    const { value } = out.batch;
    assert.ok(value, JSON.stringify(out.batch));
    assert.equal(value.one.status, 200);
    assert.is(value.one.body.displayName, 'Adele Vance');
    assert.is(value.two.status, 204);
    assert.is(value.after, 'Batch 2');
    assert.equal(value.three, { status: 200, text: '5' });
    assert.is(value.four.status, 404);
    assert.is(value.four.body.error.code, 'Request_ResourceNotFound');
  },
);

Sdk('GraphError carries status and code for 404, 400, 401 and 429', ({ out }) => {
  assert.equal(
    { ...out.error404.error, message: undefined },
    { graphError: true, statusCode: 404, code: 'Request_ResourceNotFound', message: undefined },
  );
  assert.equal(
    { ...out.error400.error, message: undefined },
    { graphError: true, statusCode: 400, code: 'Request_BadRequest', message: undefined },
  );
  assert.is(out.error400.error.message, "Invalid object identifier 'not-a-guid'.");
  assert.equal(
    { ...out.error401.error, message: undefined },
    { graphError: true, statusCode: 401, code: 'InvalidAuthenticationToken', message: undefined },
  );
  assert.equal(
    { ...out.error429.error, message: undefined },
    { graphError: true, statusCode: 429, code: 'TooManyRequests', message: undefined },
  );
});

Sdk.run();
