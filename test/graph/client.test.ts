import tls from 'node:tls';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import type { Emulator } from '../../src/emulator/server.js';
import { GraphHttpError, ToolError } from '../../src/errors.js';
import {
  createGraphClient,
  printableUrl,
  retryAfterMs,
  type GraphClientOptions,
} from '../../src/graph/client.js';
import { sampleTenant, withEmulator } from '../helpers/emulator.js';
import { rejection } from '../helpers/common.js';

const ADELE = '67aac11c-c912-5793-a9a1-f31f5b0f94f5';

/** A client on the emulator that records its waits instead of sleeping, and counts token requests. */
function clientFor(emu: Emulator, options: Partial<GraphClientOptions> = {}) {
  const waits: number[] = [];
  const tokens: { forceRefresh: boolean }[] = [];
  const client = createGraphClient({
    baseUrl: emu.graphUrl,
    ca: emu.caPem,
    backoffMs: 10,
    getToken: (o) => {
      tokens.push({ forceRefresh: o?.forceRefresh ?? false });
      return Promise.resolve(emu.identity.issueAccessToken(emu.clientId));
    },
    delay: (ms) => {
      waits.push(ms);
      return Promise.resolve();
    },
    ...options,
  });
  return { client, waits, tokens };
}

async function sample<T>(fn: (emu: Emulator) => Promise<T>): Promise<T> {
  return withEmulator({ tenant: await sampleTenant() }, fn);
}

const RetryAfterMs = suite('retryAfterMs');

RetryAfterMs('retryAfterMs(value) reads seconds, fractions and HTTP dates, in ms', () => {
  assert.is(retryAfterMs('3'), 3000);
  assert.is(retryAfterMs('0.5'), 500);
  assert.is(retryAfterMs(['2', '9']), 2000);
  const now = Date.parse('2025-01-01T00:00:00Z');
  assert.is(retryAfterMs('Wed, 01 Jan 2025 00:00:10 GMT', now), 10_000);
  assert.is(retryAfterMs('Tue, 31 Dec 2024 00:00:00 GMT', now), 0);
});

RetryAfterMs('retryAfterMs(value) is undefined for nothing or nonsense', () => {
  assert.is(retryAfterMs(undefined), undefined);
  assert.is(retryAfterMs(''), undefined);
  assert.is(retryAfterMs('soon'), undefined);
});

RetryAfterMs.run();

// ---

const PrintableUrl = suite('printableUrl');

PrintableUrl('printableUrl(url) shortens state tokens and keeps the rest', () => {
  const url = `https://graph.microsoft.com/v1.0/users/delta?$deltatoken=${'a'.repeat(40)}`;
  assert.is(printableUrl(url), 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=aaaaaaaaaaaa…');
  assert.is(printableUrl('https://x/v1.0/users?$select=id'), 'https://x/v1.0/users?$select=id');
});

PrintableUrl.run();

// ---

const Create = suite('createGraphClient');

Create('createGraphClient(options) rejects a base URL that is not https or lacks the final slash', () => {
  for (const baseUrl of ['http://127.0.0.1/v1.0/', 'https://127.0.0.1/v1.0'])
    assert.throws(
      () => createGraphClient({ baseUrl, getToken: () => Promise.resolve('t') }),
      (e: ToolError) => e.code === 'ERR_INVALID_OPTION' && e.message.includes(baseUrl),
    );
});

Create('get(url) resolves relative URLs against the base URL and parses the JSON body', () =>
  sample(async (emu) => {
    const { client } = clientFor(emu);
    try {
      const r = await client.get<{ id: string; displayName: string }>(`users/${ADELE}?$select=displayName`);
      assert.is(r.status, 200);
      assert.is(r.body.displayName, 'Adele Vance');
      assert.equal(client.stats, { requests: 1, retries: 0, throttled: 0, waitedMs: 0, resourceUnits: 1 });
    } finally {
      client.close();
    }
  }),
);

Create('get(url) retries 429 after exactly the Retry-After Graph sent', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 429, retryAfter: 3, count: 2, match: '/users' });
    const { client, waits } = clientFor(emu);
    try {
      const r = await client.get(`users/${ADELE}`);
      assert.is(r.status, 200);
      assert.equal(waits, [3000, 3000]);
      assert.equal(client.stats, { requests: 3, retries: 2, throttled: 2, waitedMs: 6000, resourceUnits: 2 });
    } finally {
      client.close();
    }
  }),
);

Create('get(url) retries 503 and 504 without Retry-After with jittered exponential backoff', () =>
  sample(async (emu) => {
    emu.faults.add(
      { kind: 'status', status: 503, count: 2, match: '/users' },
      { kind: 'status', status: 504, count: 1, match: '/users' },
    );
    const { client, waits } = clientFor(emu, { backoffMs: 100 });
    try {
      assert.is((await client.get(`users/${ADELE}`)).status, 200);
      assert.is(waits.length, 3);
      waits.forEach((w, i) => assert.ok(w >= 50 * 2 ** i && w <= 100 * 2 ** i, `wait ${i}: ${w}`));
      assert.is(client.stats.throttled, 0);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) retries a transient 500 up to 3 times; a lasting one fails; a POST never retries it', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 500, count: 3, match: '/users' });
    const { client, waits } = clientFor(emu);
    try {
      assert.is((await client.get(`users/${ADELE}`)).status, 200);
      assert.is(waits.length, 3);
      emu.faults.add({ kind: 'status', status: 500, count: 4, match: '/users' });
      const e = (await rejection(client.get(`users/${ADELE}`))) as GraphHttpError;
      assert.is(e.status, 500);
      assert.is(waits.length, 6);
      emu.faults.clear();
      emu.faults.add({ kind: 'status', status: 500, count: 1, match: 'POST /v1.0/users' });
      const post = (await rejection(
        client.request('POST', 'users', { json: { displayName: 'x' } }),
      )) as GraphHttpError;
      assert.is(post.status, 500);
      assert.is(waits.length, 6);
    } finally {
      client.close();
    }
  }),
);

Create(
  'get(url) backs off from the first step after Retry-After waits (the exponent counts backoffs only)',
  () =>
    sample(async (emu) => {
      emu.faults.add(
        { kind: 'status', status: 429, retryAfter: 0, count: 5, match: '/users' },
        { kind: 'reset', count: 2, match: '/users' },
      );
      const { client, waits } = clientFor(emu, { backoffMs: 100 });
      try {
        assert.is((await client.get(`users/${ADELE}`)).status, 200);
        assert.equal(waits.slice(0, 5), [0, 0, 0, 0, 0]);
        assert.ok(waits[5]! >= 50 && waits[5]! <= 100, `first backoff ${waits[5]}`);
        assert.ok(waits[6]! >= 100 && waits[6]! <= 200, `second backoff ${waits[6]}`);
      } finally {
        client.close();
      }
    }),
);

Create('get(url) retries connection resets and truncated bodies (GET is idempotent)', () =>
  sample(async (emu) => {
    emu.faults.add(
      { kind: 'reset', count: 2, match: '/users' },
      { kind: 'truncate', count: 2, match: '/users' },
      { kind: 'garbage', count: 1, match: '/users' },
    );
    const { client } = clientFor(emu);
    try {
      const r = await client.get<{ value: unknown[] }>('users?$select=id');
      assert.is(r.status, 200);
      assert.is(r.body.value.length, emu.tenant.list('user').length);
      assert.is(client.stats.retries, 5);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) fails with ERR_GRAPH_RESPONSE when every body is truncated', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'truncate', rate: 1, match: '/users' });
    const { client, waits } = clientFor(emu, { retries: 3 });
    try {
      const e = await rejection(client.get('users'));
      assert.is(e.code, 'ERR_GRAPH_RESPONSE');
      assert.match(
        e.message,
        /GET https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users failed after 4 attempts: .*cut short/,
      );
      assert.is(waits.length, 3);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) fails with ERR_GRAPH_RESPONSE when every body is not JSON', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'garbage', rate: 1, match: '/users' });
    const { client } = clientFor(emu, { retries: 1 });
    try {
      const e = await rejection(client.get('users'));
      assert.is(e.code, 'ERR_GRAPH_RESPONSE');
      assert.match(e.message, /not JSON/);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) fails with ERR_GRAPH_NETWORK when every attempt is reset', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'reset', rate: 1, match: '/users' });
    const { client } = clientFor(emu, { retries: 2 });
    try {
      const e = await rejection(client.get('users'));
      assert.is(e.code, 'ERR_GRAPH_NETWORK');
      assert.match(e.message, /after 3 attempts/);
    } finally {
      client.close();
    }
  }),
);

Create(
  'get(url) gives up on an answer that trickles in a byte a second past answerTimeoutMs, and retries it as a timeout',
  () =>
    sample(async (emu) => {
      // The idle timeouts (60 s) never fire: a byte comes every second. Without a deadline for the
      // whole answer the request would wait for hours; the guard turns that into a failure, not a hang.
      const guard = (client: { close(): void }) => setTimeout(() => client.close(), 60_000);
      emu.faults.add({ kind: 'trickle', count: 1, match: '/users' });
      const once = clientFor(emu, { answerTimeoutMs: 1500 });
      let timer = guard(once.client);
      try {
        const r = await once.client.get<{ value: unknown[] }>('users?$select=id');
        assert.is(r.body.value.length, emu.tenant.list('user').length);
        assert.is(once.client.stats.retries, 1);
      } finally {
        clearTimeout(timer);
        once.client.close();
      }
      emu.faults.clear();
      emu.faults.add({ kind: 'trickle', rate: 1, match: '/users' });
      const always = clientFor(emu, { answerTimeoutMs: 1500, retries: 1 });
      timer = guard(always.client);
      try {
        const e = await rejection(always.client.get('users'));
        assert.is(e.code, 'ERR_GRAPH_NETWORK');
        assert.match(
          e.message,
          /^GET https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users failed after 2 attempts: no whole answer within 1\.5 s \(ETIMEDOUT\)$/,
        );
      } finally {
        clearTimeout(timer);
        always.client.close();
      }
    }),
);

Create('get(url) gives up with ERR_GRAPH_HTTP when Retry-After is longer than allowed', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 429, retryAfter: 600, count: 1 });
    const { client, waits } = clientFor(emu, { maxRetryAfterMs: 60_000 });
    try {
      const e = (await rejection(client.get('users'))) as GraphHttpError;
      assert.is(e.code, 'ERR_GRAPH_HTTP');
      assert.is(e.status, 429);
      assert.match(e.message, /wait 600 s/);
      assert.equal(waits, []);
    } finally {
      client.close();
    }
  }),
);

Create("request('POST') retries 429 but not a 503 without Retry-After (it may have been done)", () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 429, retryAfter: 1, count: 1, match: 'POST /v1.0/users' });
    const { client, waits } = clientFor(emu);
    const user = (n: string) => ({
      accountEnabled: true,
      displayName: n,
      mailNickname: n,
      userPrincipalName: `${n}@contoso.onmicrosoft.com`,
      passwordProfile: { password: 'Str0ng!Passw0rd#1' },
    });
    try {
      const r = await client.request('POST', 'users', { json: user('posted1') });
      assert.is(r.status, 201);
      assert.equal(waits, [1000]);
      emu.faults.add({ kind: 'status', status: 503, count: 1, match: 'POST /v1.0/users' });
      const e = (await rejection(
        client.request('POST', 'users', { json: user('posted2') }),
      )) as GraphHttpError;
      assert.is(e.status, 503);
      assert.equal(waits, [1000]);
    } finally {
      client.close();
    }
  }),
);

Create("request(..., { retry: 'never', throwHttpErrors: false }) returns the first answer", () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 429, retryAfter: 1, count: 1 });
    const { client, waits } = clientFor(emu);
    try {
      const r = await client.get('users', { retry: 'never', throwHttpErrors: false });
      assert.is(r.status, 429);
      assert.is(r.headers['retry-after'], '1');
      assert.equal(waits, []);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) fails with a GraphHttpError carrying status, Graph code and request-id', () =>
  sample(async (emu) => {
    const { client } = clientFor(emu);
    try {
      const e = (await rejection(client.get('users/00000000-0000-0000-0000-000000000001'))) as GraphHttpError;
      assert.instance(e, GraphHttpError);
      assert.is(e.status, 404);
      assert.is(e.graphCode, 'Request_ResourceNotFound');
      assert.match(e.requestId ?? '', /^[0-9a-f-]{36}$/);
      assert.ok(e.context.includes(`request-id: ${e.requestId}`), e.context.join('\n'));
      assert.ok(e.context.some((l) => /^request: GET https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\//.test(l)));
    } finally {
      client.close();
    }
  }),
);

Create('get(url) asks for a fresh token once after a 401 InvalidAuthenticationToken', () =>
  sample(async (emu) => {
    let calls = 0;
    const { client } = clientFor(emu, {
      getToken: (o) => {
        calls++;
        return Promise.resolve(o?.forceRefresh ? emu.identity.issueAccessToken(emu.clientId) : 'expired');
      },
    });
    try {
      assert.is((await client.get(`users/${ADELE}`)).status, 200);
      assert.is(calls, 2);
    } finally {
      client.close();
    }
  }),
);

Create(
  'get(url) forces again when the refresh answers with the token just refused (a shared cache hit)',
  () =>
    sample(async (emu) => {
      const answers = ['expired', 'expired', emu.identity.issueAccessToken(emu.clientId)];
      const forced: boolean[] = [];
      const { client } = clientFor(emu, {
        getToken: (o) => {
          forced.push(o?.forceRefresh ?? false);
          return Promise.resolve(answers.shift()!);
        },
      });
      try {
        assert.is((await client.get(`users/${ADELE}`)).status, 200);
        assert.equal(forced, [false, true, true]);
      } finally {
        client.close();
      }
    }),
);

Create('get(url) fails with ERR_GRAPH_HTTP 401 when even a fresh token is refused (no loop)', () =>
  sample(async (emu) => {
    let calls = 0;
    const { client } = clientFor(emu, {
      getToken: () => {
        calls++;
        return Promise.resolve(`not-a-token-${calls}`);
      },
    });
    try {
      const e = (await rejection(client.get(`users/${ADELE}`))) as GraphHttpError;
      assert.is(e.status, 401);
      assert.is(e.graphCode, 'InvalidAuthenticationToken');
      assert.is(calls, 2);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) after the token expired (emulator clock moved on) refreshes and succeeds', () =>
  sample(async (emu) => {
    let token = emu.identity.issueAccessToken(emu.clientId);
    const { client } = clientFor(emu, {
      getToken: (o) => {
        if (o?.forceRefresh) token = emu.identity.issueAccessToken(emu.clientId);
        return Promise.resolve(token);
      },
    });
    try {
      assert.is((await client.get(`users/${ADELE}`)).status, 200);
      emu.clock.advance(2 * 3600_000);
      assert.is((await client.get(`users/${ADELE}`)).status, 200);
      assert.is(client.stats.requests, 3);
    } finally {
      client.close();
    }
  }),
);

Create('get(url) without the emulator CA fails at once with ERR_TLS (exit code 2), never retried', () =>
  sample(async (emu) => {
    const { client } = clientFor(emu, { ca: undefined });
    try {
      const e = await rejection(client.get('users'));
      assert.is(e.code, 'ERR_TLS');
      assert.is(e.exitCode, 2);
      assert.match(e.message, /127\.0\.0\.1:\d+ is not trusted/);
      assert.is(client.stats.requests, 1);
    } finally {
      client.close();
    }
  }),
);

Create('requests on several sockets share one TLS context: the roots and the CA are read once', () =>
  sample(async (emu) => {
    const real = tls.createSecureContext;
    let contexts = 0;
    tls.createSecureContext = (o) => {
      contexts++;
      return real(o);
    };
    try {
      const { client } = clientFor(emu, { maxSockets: 8 });
      try {
        const answers = await Promise.all(Array.from({ length: 8 }, () => client.get(`users/${ADELE}`)));
        assert.ok(answers.every((a) => a.status === 200));
        assert.is(contexts, 1);
      } finally {
        client.close();
      }
    } finally {
      tls.createSecureContext = real;
    }
  }),
);

Create('close() stops a request waiting to retry: it fails with ERR_GRAPH_CLOSED', () =>
  sample(async (emu) => {
    emu.faults.add({ kind: 'status', status: 503, rate: 1 });
    let closeNow: () => void = () => {};
    const waiting = new Promise<void>((resolve) => (closeNow = resolve));
    const { client } = clientFor(emu, {
      delay: () => {
        closeNow();
        return new Promise(() => {});
      },
    });
    const pending = client.get('users');
    await waiting;
    client.close();
    const e = await rejection(pending);
    assert.is(e.code, 'ERR_GRAPH_CLOSED');
  }),
);

Create.run();
