import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { createGraphClient } from '../../src/graph/client.js';
import { findCreated } from '../../src/sinks/find-created.js';
import type { PlannedRequest } from '../../src/streams/to-request.js';
import { rejection } from '../helpers/common.js';
import { withEmulator } from '../helpers/emulator.js';

const FindCreated = suite('findCreated');

function clientFor(emu: Emulator) {
  return createGraphClient({
    baseUrl: emu.graphUrl,
    getToken: () => Promise.resolve(emu.identity.issueAccessToken(emu.clientId)),
    ca: emu.caPem,
    retries: 0,
  });
}

const create = (url: string, body: Record<string, unknown>): PlannedRequest => ({
  method: 'POST',
  url,
  body,
  objectKey: `${url.slice(1)}/new`,
});

FindCreated('findCreated(client, request) finds a user by userPrincipalName, or answers none', () =>
  withEmulator({ generate: { users: 3, groups: 0, seed: 1 } }, async (emu) => {
    const client = clientFor(emu);
    try {
      const user = emu.tenant.createUser({ userPrincipalName: "o'neil@contoso.onmicrosoft.com" });
      const found = await findCreated(
        client,
        create('/users', { userPrincipalName: user.data.userPrincipalName }),
      );
      assert.is(found, user.id);
      const absent = create('/users', { userPrincipalName: 'nobody@contoso.onmicrosoft.com' });
      assert.is(await findCreated(client, absent), undefined);
    } finally {
      client.close();
    }
  }),
);

FindCreated('findCreated(client, request) finds a group by mailNickname, quotes and all', () =>
  withEmulator({ generate: { users: 1, groups: 2, seed: 1 } }, async (emu) => {
    const client = clientFor(emu);
    try {
      const group = emu.tenant.createGroup({ mailNickname: "o'hara-team" });
      assert.is(await findCreated(client, create('/groups', { mailNickname: "o'hara-team" })), group.id);
      assert.is(await findCreated(client, create('/groups', { mailNickname: 'no-such-team' })), undefined);
      assert.is(await findCreated(client, create('/contacts', { displayName: 'x' })), undefined, 'no key');
    } finally {
      client.close();
    }
  }),
);

FindCreated('findCreated(client, request) fails ERR_GRAPH_LOOKUP when Graph cannot tell', () =>
  withEmulator({ generate: { users: 1, groups: 1, seed: 1 } }, async (emu) => {
    const client = clientFor(emu);
    try {
      emu.faults.add({ kind: 'status', status: 503, retryAfter: 0, count: 2, match: 'GET /v1.0/' });
      for (const request of [
        create('/users', { userPrincipalName: 'someone@contoso.onmicrosoft.com' }),
        create('/groups', { mailNickname: 'someone' }),
      ]) {
        const error = await rejection(findCreated(client, request));
        assert.is(error.code, 'ERR_GRAPH_LOOKUP');
        assert.match(error.message, /Graph answered 503/);
      }
    } finally {
      client.close();
    }
  }),
);

FindCreated.run();
