/**
 * A program that uses Microsoft's Graph JavaScript SDK v3 (`@microsoft/microsoft-graph-client`) the
 * way its docs show, against the Graph named in ENTRA_CONFORMANCE, and prints what the SDK returned as
 * one JSON object on stdout. test/conformance/graph-js-sdk.test.ts runs it in a child process (so that
 * NODE_EXTRA_CA_CERTS makes Node trust the emulator's CA) and checks the observations.
 *
 * The SDK is configured through its public options only: the base URL, `customHosts` (the hosts it
 * sends tokens to), an @azure/identity credential with `authorityHost`, and per-request middleware
 * options. Nothing of it is patched.
 */
import { ClientSecretCredential } from '@azure/identity';
import {
  BatchRequestContent,
  BatchResponseContent,
  Client,
  GraphError,
  PageIterator,
  RetryHandlerOptions,
  type PageCollection,
} from '@microsoft/microsoft-graph-client';
import { TokenCredentialAuthenticationProvider } from '@microsoft/microsoft-graph-client/authProviders/azureTokenCredentials/index.js';

interface Config {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  group: string;
  user: string;
  throttled: string;
}

const config = JSON.parse(process.env.ENTRA_CONFORMANCE ?? '{}') as Config;
const host = new URL(config.url).hostname;
const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
  authorityHost: config.url,
  disableInstanceDiscovery: true,
});
const client = Client.initWithMiddleware({
  baseUrl: config.url,
  defaultVersion: 'v1.0',
  customHosts: new Set([host]),
  authProvider: new TokenCredentialAuthenticationProvider(credential, {
    scopes: ['https://graph.microsoft.com/.default'],
  }),
});
const noRetry = [new RetryHandlerOptions(0, 0)];

/** Every item of a collection through PageIterator, and the deltaLink it ends on, if any. */
async function iterate(path: string): Promise<{ items: any[]; deltaLink: string | undefined }> {
  const items: any[] = [];
  const first = (await client.api(path).get()) as PageCollection;
  const iterator = new PageIterator(client, first, (item) => {
    items.push(item);
    return true;
  });
  await iterator.iterate();
  return { items, deltaLink: iterator.getDeltaLink() };
}

function errorOf(e: unknown): Record<string, unknown> {
  if (e instanceof GraphError)
    return { graphError: true, statusCode: e.statusCode, code: e.code, message: e.message };
  return { graphError: false, name: (e as Error).name, message: (e as Error).message };
}

async function observe(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: errorOf(e) };
  }
}

const out: Record<string, unknown> = {};

out.listUsers = await observe(async () => {
  const { items } = await iterate('/users?$top=4&$select=id,displayName');
  return { ids: items.map((u) => u.id) };
});

out.listMembers = await observe(async () => {
  const { items } = await iterate(`/groups/${config.group}/members?$top=2`);
  return { ids: items.map((m) => m.id), types: items.map((m) => m['@odata.type']) };
});

out.deltaRound = await observe(async () => {
  const first = await iterate('/users/delta?$select=displayName,jobTitle');
  await client.api(`/users/${config.user}`).patch({ jobTitle: 'Conformance tester' });
  const second = await iterate(first.deltaLink!);
  return {
    initial: first.items.length,
    deltaLink: first.deltaLink,
    changes: second.items,
    next: second.deltaLink,
  };
});

out.groupsDelta = await observe(async () => {
  const { items, deltaLink } = await iterate('/groups/delta?$select=displayName,members');
  const group = items.filter((g) => g.id === config.group);
  return { deltaLink, members: group.flatMap((g) => (g['members@delta'] ?? []).map((m: any) => m.id)) };
});

out.batch = await observe(async () => {
  // BatchRequestContent strips scheme and host; 3.0.7 keeps a version segment, so the URLs leave it out
  // (the SDK maintainers' advice, microsoftgraph/msgraph-sdk-javascript#1451).
  const batch = new BatchRequestContent([
    {
      id: '1',
      request: new Request(`${config.url}/users/${config.user}?$select=displayName`, { method: 'GET' }),
    },
    {
      id: '2',
      request: new Request(`${config.url}/users/${config.user}`, {
        method: 'PATCH',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ officeLocation: 'Batch 2' }),
      }),
    },
    {
      id: '3',
      request: new Request(`${config.url}/groups/${config.group}/members/$count`, {
        method: 'GET',
        headers: { ConsistencyLevel: 'eventual' },
      }),
    },
    {
      id: '4',
      request: new Request(`${config.url}/users/00000000-0000-0000-0000-00000000abcd`, { method: 'GET' }),
    },
  ]);
  const response = new BatchResponseContent(await client.api('/$batch').post(await batch.getContent()));
  const one = response.getResponseById('1');
  const two = response.getResponseById('2');
  const four = response.getResponseById('4');
  return {
    one: { status: one.status, body: await one.json() },
    two: { status: two.status },
    three: { status: response.getResponseById('3').status, text: await response.getResponseById('3').text() },
    four: { status: four.status, body: await four.json() },
    after: (await client.api(`/users/${config.user}`).select('officeLocation').get()).officeLocation,
  };
});

out.error404 = await observe(() => client.api('/users/00000000-0000-0000-0000-00000000abcd').get());
out.error400 = await observe(() => client.api('/groups/not-a-guid').get());
out.error429 = await observe(() => client.api(`/users/${config.throttled}`).middlewareOptions(noRetry).get());
out.error401 = await observe(() => {
  const anonymous = Client.init({
    baseUrl: config.url,
    defaultVersion: 'v1.0',
    customHosts: new Set([host]),
    authProvider: (done) => done(null, 'not-a-token'),
  });
  return anonymous.api('/users').get();
});

process.stdout.write(JSON.stringify(out));
