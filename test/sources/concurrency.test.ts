import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { aimdConcurrency, fixedConcurrency, type AimdOptions } from '../../src/sources/concurrency.js';

/** A limiter on a clock the test moves, with sleeps recorded and ended by the test. */
function rig(options: AimdOptions = {}) {
  let t = 0;
  const sleeps: { ms: number; end: () => void }[] = [];
  const limiter = aimdConcurrency({
    now: () => t,
    sleep: (ms) => new Promise<void>((end) => sleeps.push({ ms, end })),
    ...options,
  });
  /** Takes every free slot; returns their release functions and send times. */
  const fill = async () => {
    const taken: { release: () => void; sentAt: number }[] = [];
    while (taken.length < limiter.limit) taken.push({ release: await limiter.acquire(), sentAt: t });
    return taken;
  };
  return {
    limiter,
    sleeps,
    fill,
    advance: (ms: number) => (t += ms),
    now: () => t,
  };
}
const tick = () => new Promise<void>((r) => setImmediate(r));

const Aimd = suite('aimdConcurrency');

Aimd('slow start: the window grows by one per clean answer while it is used, up to max', async () => {
  const { limiter, fill } = rig({ initial: 4, max: 10 });
  assert.is(limiter.limit, 4);
  const taken = await fill();
  for (const s of taken) limiter.observe({ status: 200, sentAt: s.sentAt });
  assert.is(limiter.limit, 8);
  for (const s of taken) s.release();
  const more = await fill();
  for (const s of more) limiter.observe({ status: 200, sentAt: s.sentAt });
  assert.is(limiter.limit, 10, 'capped at max');
  assert.is(limiter.stats.peak, 10);
});

Aimd('an idle window does not grow', async () => {
  const { limiter } = rig({ initial: 8 });
  const release = await limiter.acquire();
  for (let i = 0; i < 20; i++) limiter.observe({ status: 200, sentAt: 0 });
  release();
  assert.is(limiter.limit, 8);
});

Aimd('a 429 halves the window once per round trip and holds new requests for Retry-After', async () => {
  const { limiter, fill, sleeps, advance, now } = rig({ initial: 16, max: 64 });
  const taken = await fill();
  advance(100);
  // Three answers to requests sent before the cut: one cut.
  for (const s of taken.slice(0, 3)) limiter.observe({ status: 429, retryAfterMs: 2000, sentAt: s.sentAt });
  assert.is(limiter.limit, 8);
  assert.is(limiter.stats.throttled, 3);
  assert.is(limiter.stats.decreases, 1);
  for (const s of taken) s.release();
  let got = false;
  const next = limiter.acquire().then((r) => ((got = true), r));
  await tick();
  assert.is(got, false, 'held while Graph asked to wait');
  assert.equal(
    sleeps.map((s) => s.ms),
    [2000],
  );
  advance(2000);
  sleeps[0]!.end();
  (await next)();
  assert.ok(got);
  // After the cut, growth is additive: +1/window per clean answer.
  const again = await fill();
  for (const s of again) limiter.observe({ status: 200, sentAt: s.sentAt });
  assert.is(limiter.limit, 8, 'not yet a whole round trip of answers');
  limiter.observe({ status: 200, sentAt: again[0]!.sentAt });
  assert.is(limiter.limit, 9);
  // A 429 to a request sent after the cut cuts again.
  limiter.observe({ status: 429, sentAt: now() });
  assert.is(limiter.limit, 4);
});

Aimd('x-ms-throttle-limit-percentage: ≥ 0.8 stops the growth, ≥ 1.0 cuts by a quarter', async () => {
  const { limiter, fill, advance } = rig({ initial: 8, max: 64 });
  const taken = await fill();
  advance(10);
  for (const s of taken) limiter.observe({ status: 200, limitPercentage: 0.9, sentAt: s.sentAt });
  assert.is(limiter.limit, 8);
  limiter.observe({ status: 200, limitPercentage: 1.2, sentAt: 5 });
  assert.is(limiter.limit, 6);
  assert.is(limiter.stats.throttled, 0);
});

Aimd('resource units are summed, and a known RU budget caps the window', async () => {
  const { limiter, fill, advance } = rig({ initial: 4, max: 64, ruPerSecond: 100 });
  for (let round = 0; round < 6; round++) {
    const taken = await fill();
    advance(200);
    for (const s of taken) {
      limiter.observe({ status: 200, resourceUnits: 2, sentAt: s.sentAt });
      s.release();
    }
  }
  // 200 ms a request, 2 RU each: 90% of 100 RU/s allows 9 in flight.
  assert.is(limiter.limit, 9);
  assert.ok(limiter.stats.resourceUnits > 0 && limiter.stats.resourceUnits % 2 === 0);
});

Aimd('503 with Retry-After counts as throttling; other errors neither grow nor cut', async () => {
  const { limiter, fill } = rig({ initial: 8 });
  const taken = await fill();
  limiter.observe({ status: 500, sentAt: -1 });
  limiter.observe({ sentAt: -1 });
  assert.is(limiter.limit, 8);
  limiter.observe({ status: 503, retryAfterMs: 0, sentAt: taken[0]!.sentAt + 1 });
  assert.is(limiter.limit, 4);
});

Aimd('fixedConcurrency keeps N in flight whatever Graph says', async () => {
  const limiter = fixedConcurrency(3, () => 0);
  const r = [await limiter.acquire(), await limiter.acquire(), await limiter.acquire()];
  let fourth = false;
  const p = limiter.acquire().then((x) => ((fourth = true), x));
  limiter.observe({ status: 429, retryAfterMs: 1000, sentAt: 1 });
  for (let i = 0; i < 10; i++) limiter.observe({ status: 200, sentAt: 1 });
  await tick();
  assert.is(fourth, false);
  r[0]!();
  (await p)();
  assert.is(limiter.limit, 3);
  assert.is(limiter.max, 3);
  assert.is(limiter.stats.throttled, 1);
});

Aimd.run();
