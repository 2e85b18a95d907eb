import { createServer, type Server, type Socket } from 'node:net';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { requestJson } from '../../src/graph/http-json.js';

const Request = suite('requestJson');

/** A TCP server on 127.0.0.1 whose connections get `onSocket`; closed with all its sockets. */
async function withServer(onSocket: (socket: Socket) => void, run: (url: string) => Promise<void>) {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => {});
    onSocket(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  try {
    await run(`http://127.0.0.1:${port}/token`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
}

/** `promise`, or a failure once `ms` have passed: a request that never ends fails the test, not the suite. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
}

/** The error `promise` rejects with; an answer fails the test. */
function failureOf(promise: Promise<unknown>): Promise<NodeJS.ErrnoException> {
  return promise.then(
    () => {
      throw new Error('answered');
    },
    (e: NodeJS.ErrnoException) => e,
  );
}

Request(
  'requestJson({ timeoutMs }) gives up when no whole answer came in time, even from a server that trickles bytes',
  async () => {
    // A header byte every 20 ms: the socket is never idle, so an idle timeout alone would wait forever.
    await withServer(
      (socket) => {
        socket.write('HTTP/1.1 200 OK\r\nX-Slow: ');
        const drip = setInterval(() => socket.write('a'), 20);
        socket.on('close', () => clearInterval(drip));
      },
      async (url) => {
        const error = await within(
          failureOf(requestJson(url, { method: 'GET', agent: false, timeoutMs: 300 })),
          20_000,
          'a trickling server',
        );
        assert.is(error.code, 'ETIMEDOUT');
        assert.is(error.message, 'no answer within 300 ms');
      },
    );
    // The same for a body that never ends.
    await withServer(
      (socket) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n{"a":"');
        const drip = setInterval(() => socket.write('a'), 20);
        socket.on('close', () => clearInterval(drip));
      },
      async (url) => {
        const error = await within(
          failureOf(requestJson(url, { method: 'GET', agent: false, timeoutMs: 300 })),
          20_000,
          'a trickling body',
        );
        assert.is(error.code, 'ETIMEDOUT');
      },
    );
  },
);

Request('requestJson() resolves with the status, headers and JSON of a prompt answer', async () => {
  await withServer(
    (socket) =>
      socket.once('data', () =>
        socket.end('HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n\r\n{"a":1} '),
      ),
    async (url) => {
      const answer = await requestJson(url, { method: 'GET', agent: false, timeoutMs: 5_000 });
      assert.is(answer.status, 200);
      assert.is(answer.headers['content-type'], 'application/json');
      assert.equal(answer.json, { a: 1 });
    },
  );
});

Request.run();
