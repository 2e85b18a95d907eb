/**
 * A program that uses Microsoft's Kiota-generated TypeScript SDK (`@microsoft/msgraph-sdk` with
 * `@microsoft/msgraph-sdk-users`, an @azure/identity credential) the way its README shows, against
 * the Graph named in ENTRA_CONFORMANCE, and prints what the SDK returned as one JSON object on stdout.
 * test/conformance/kiota-sdk.test.ts runs it in a child process trusting the emulator's CA through
 * NODE_EXTRA_CA_CERTS, and checks the observations.
 *
 * Configured through public options only: the credential's `authorityHost`, the authentication
 * provider's allowed hosts, the request adapter's `baseUrl`, per-request options. No groups package
 * is published, so group requests go through the request adapter with RequestInformation, as Kiota's
 * docs describe for paths a package does not cover.
 */
import { ClientSecretCredential } from '@azure/identity';
import { HttpMethod, RequestInformation, type RequestOption } from '@microsoft/kiota-abstractions';
import { AzureIdentityAuthenticationProvider } from '@microsoft/kiota-authentication-azure';
import { RetryHandlerOptions } from '@microsoft/kiota-http-fetchlibrary';
import { GraphRequestAdapter, createGraphServiceClient } from '@microsoft/msgraph-sdk';
import {
  createGroupCollectionResponseFromDiscriminatorValue,
  createUserCollectionResponseFromDiscriminatorValue,
  serializeReferenceCreate,
  type Group,
  type User,
} from '@microsoft/msgraph-sdk/models/index.js';
import {
  createODataErrorFromDiscriminatorValue,
  type ODataError,
} from '@microsoft/msgraph-sdk/models/oDataErrors/index.js';
import '@microsoft/msgraph-sdk-users';

interface Config {
  url: string;
  graphUrl: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
  group: string;
  user: string;
  other: string;
  throttled: string;
  domain: string;
}

const config = JSON.parse(process.env.ENTRA_CONFORMANCE ?? '{}') as Config;
const credential = new ClientSecretCredential(config.tenantId, config.clientId, config.clientSecret, {
  authorityHost: config.url,
  disableInstanceDiscovery: true,
});
const auth = new AzureIdentityAuthenticationProvider(
  credential,
  ['https://graph.microsoft.com/.default'],
  undefined,
  new Set([new URL(config.url).hostname]),
);
const adapter = new GraphRequestAdapter(auth);
adapter.baseUrl = config.graphUrl.replace(/\/$/, '');
const client = createGraphServiceClient(adapter);
const errors = { XXX: createODataErrorFromDiscriminatorValue };

function errorOf(e: unknown): Record<string, unknown> {
  const o = e as ODataError;
  return {
    typed: typeof o.responseStatusCode === 'number' && o.errorEscaped !== undefined,
    status: o.responseStatusCode,
    code: o.errorEscaped?.code,
    message: o.errorEscaped?.message ?? (e as Error).message,
    details: o.errorEscaped?.details?.map((d) => ({ code: d.code, target: d.target })),
  };
}

async function observe(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    return { value: await fn() };
  } catch (e) {
    return { error: errorOf(e) };
  }
}

/** A GET through the request adapter, for group paths no published package covers. */
function groupRequest(method: HttpMethod, template: string, group: string): RequestInformation {
  const ri = new RequestInformation(method, `{+baseurl}${template}`);
  ri.pathParameters['group%2Did'] = group;
  ri.headers.tryAdd('Accept', 'application/json');
  return ri;
}

const out: Record<string, unknown> = {};

out.listUsers = await observe(async () => {
  const ids: string[] = [];
  let page = await client.users.get({ queryParameters: { top: 4, select: ['id', 'displayName'] } });
  let pages = 1;
  for (;;) {
    ids.push(...(page?.value ?? []).map((u) => u.id!));
    if (!page?.odataNextLink) break;
    page = await client.users.withUrl(page.odataNextLink).get();
    pages++;
  }
  return { ids, pages };
});

out.deltaRound = await observe(async () => {
  const round = async (first: () => ReturnType<typeof client.users.delta.get>) => {
    const items: User[] = [];
    let page = await first();
    for (;;) {
      items.push(...(page?.value ?? []));
      if (page?.odataDeltaLink) return { items, deltaLink: page.odataDeltaLink };
      page = await client.users.delta.withUrl(page!.odataNextLink!).get();
    }
  };
  const first = await round(() =>
    client.users.delta.get({ queryParameters: { select: ['displayName', 'jobTitle'] } }),
  );
  await client.users.byUserId(config.user).patch({ jobTitle: 'Kiota tester' });
  const second = await round(() => client.users.delta.withUrl(first.deltaLink).get());
  return {
    initial: first.items.length,
    deltaLink: first.deltaLink,
    changes: second.items.map((u) => ({ id: u.id, displayName: u.displayName, jobTitle: u.jobTitle })),
  };
});

out.create = await observe(async () => {
  const created = await client.users.post({
    accountEnabled: true,
    displayName: 'Kiota Created',
    mailNickname: 'kiota.created',
    userPrincipalName: `kiota.created@${config.domain}`,
    passwordProfile: { forceChangePasswordNextSignIn: true, password: 'xWwvJ]6NMw+bWH-d' },
  });
  await client.users.byUserId(created!.id!).patch({ department: 'Conformance' });
  const read = await client.users
    .byUserId(created!.id!)
    .get({ queryParameters: { select: ['department', 'userType'] } });
  return {
    id: created?.id,
    displayName: created?.displayName,
    department: read?.department,
    userType: read?.userType,
  };
});

out.conflict = await observe(() =>
  client.users.post({
    accountEnabled: true,
    displayName: 'Kiota Again',
    mailNickname: 'kiota.again',
    userPrincipalName: `kiota.created@${config.domain}`,
    passwordProfile: { forceChangePasswordNextSignIn: true, password: 'xWwvJ]6NMw+bWH-d' },
  }),
);
out.notFound = await observe(() => client.users.byUserId('00000000-0000-0000-0000-00000000abcd').get());
out.badSelect = await observe(() => client.users.get({ queryParameters: { select: ['noSuchProperty'] } }));
const noRetry: RequestOption[] = [new RetryHandlerOptions({ maxRetries: 0 })];
out.throttled = await observe(() => client.users.byUserId(config.throttled).get({ options: noRetry }));

out.refs = await observe(async () => {
  const add = groupRequest(HttpMethod.POST, '/groups/{group%2Did}/members/$ref', config.group);
  add.setContentFromParsable(
    adapter,
    'application/json',
    { odataId: `${config.graphUrl}directoryObjects/${config.other}` },
    serializeReferenceCreate,
  );
  await adapter.sendNoResponseContent(add, errors);
  const cast = groupRequest(HttpMethod.GET, '/groups/{group%2Did}/members/graph.user', config.group);
  const users = await adapter.send(cast, createUserCollectionResponseFromDiscriminatorValue, errors);
  const again = await observe(() => adapter.sendNoResponseContent(add, errors));
  const remove = groupRequest(
    HttpMethod.DELETE,
    `/groups/{group%2Did}/members/${config.other}/$ref`,
    config.group,
  );
  await adapter.sendNoResponseContent(remove, errors);
  const after = await adapter.send(cast, createUserCollectionResponseFromDiscriminatorValue, errors);
  return {
    added: (users as { value?: User[] }).value?.some((u) => u.id === config.other),
    again,
    removed: !(after as { value?: User[] }).value?.some((u) => u.id === config.other),
  };
});

out.groupsDelta = await observe(async () => {
  const ri = groupRequest(HttpMethod.GET, '/groups/delta()?%24select=displayName,members', config.group);
  const page = (await adapter.send(ri, createGroupCollectionResponseFromDiscriminatorValue, errors)) as {
    value?: Group[];
    odataNextLink?: string;
    additionalData?: Record<string, unknown>;
  };
  return { count: page.value?.length, link: page.odataNextLink ?? page.additionalData?.['@odata.deltaLink'] };
});

out.manager = await observe(async () => {
  await client.users
    .byUserId(config.user)
    .manager.ref.put({ odataId: `${config.graphUrl}users/${config.other}` });
  const manager = await client.users.byUserId(config.user).manager.get();
  return { id: manager?.id, type: manager?.odataType };
});

process.stdout.write(JSON.stringify(out));
