import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { parseWriteBudget } from '../../src/settings/fulfill-options.js';
import { GRAPH_WRITE_BUDGET, WritePacer } from '../../src/sinks/write-pacer.js';

/** A clock the test moves by hand. */
function clock(start = 1000) {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
}

const Parse = suite('parseWriteBudget');

Parse('parseWriteBudget(text) reads WRITES/SECONDS and off', () => {
  assert.equal(parseWriteBudget('3000/150'), GRAPH_WRITE_BUDGET);
  assert.equal(parseWriteBudget(' 40 / 2 '), { writes: 40, windowMs: 2000 });
  assert.equal(parseWriteBudget('10/0.5'), { writes: 10, windowMs: 500 });
  assert.is(parseWriteBudget('off'), null);
});

Parse('parseWriteBudget(text) refuses anything else, naming the expected form', () => {
  for (const bad of ['', '3000', '0/10', '10/0', '-1/5', 'ten/5', '10/5/1', 'OFF'])
    assert.throws(() => parseWriteBudget(bad), /expected WRITES\/SECONDS \(e\.g\. 3000\/150\) or off/, bad);
});

Parse.run();

// ---

const Reserve = suite('WritePacer.reserve');

Reserve('reserve(n) lets a full bucket go at once, then paces at the budget rate', () => {
  const c = clock();
  const pacer = new WritePacer({ writes: 40, windowMs: 2000 }, c.now);
  assert.is(pacer.reserve(20), 0);
  assert.is(pacer.reserve(20), 0, 'the bucket starts full, like Graph');
  // 20 writes per second: 20 more need one second.
  assert.is(pacer.reserve(20), 1000);
  c.advance(500);
  assert.is(pacer.reserve(20), 500, 'half refilled after half the time');
  c.advance(500);
  assert.is(pacer.reserve(20), 0);
  assert.is(pacer.reserve(1), 50);
});

Reserve('reserve(n) never waits with no budget (null)', () => {
  const pacer = new WritePacer(null, clock().now);
  for (let i = 0; i < 100; i++) assert.is(pacer.reserve(20), 0);
});

Reserve(
  'reserve(n) lets a batch larger than the budget go from a full bucket instead of waiting forever',
  () => {
    const c = clock();
    const pacer = new WritePacer({ writes: 10, windowMs: 1000 }, c.now);
    assert.is(pacer.reserve(20), 0);
    // 10 in debt: the next 10 writes wait for 20 tokens' worth of time, 2 s.
    assert.is(pacer.reserve(10), 2000);
    c.advance(2000);
    assert.is(pacer.reserve(10), 0);
  },
);

Reserve('WritePacer.budgetWaitAt says when the budget, not a 429, last held writes back', () => {
  const c = clock();
  const pacer = new WritePacer({ writes: 10, windowMs: 1000 }, c.now);
  assert.is(pacer.reserve(10), 0);
  assert.is(pacer.budgetWaitAt, -Infinity, 'a full bucket holds nothing back');
  c.advance(5);
  assert.ok(pacer.reserve(5) > 0);
  assert.is(pacer.budgetWaitAt, 1005);
  c.advance(2000);
  pacer.pause(500);
  assert.ok(pacer.reserve(1) > 0, 'paused by a 429');
  assert.is(pacer.budgetWaitAt, 1005, 'a 429 pause is not the budget');
});

Reserve(
  'held: the time writes waited, from the first refusal to the next grant, by the budget and by a 429',
  () => {
    const c = clock();
    const pacer = new WritePacer({ writes: 10, windowMs: 1000 }, c.now);
    assert.is(pacer.reserve(10), 0);
    assert.ok(pacer.reserve(10) > 0);
    c.advance(400);
    assert.ok(pacer.reserve(10) > 0, 'still held: the same wait');
    c.advance(600);
    assert.is(pacer.reserve(10), 0);
    assert.equal(pacer.held, { budgetMs: 1000, throttleMs: 0 });
    pacer.pause(2000);
    assert.is(pacer.reserve(1), 2000);
    c.advance(2000);
    assert.is(pacer.reserve(0), 0);
    assert.equal(pacer.held, { budgetMs: 1000, throttleMs: 2000 });
  },
);

Reserve.run();

// ---

const Pause = suite('WritePacer.pause');

Pause('pause(ms) holds every write back until Retry-After has passed, then resumes at the rate', () => {
  const c = clock();
  const pacer = new WritePacer({ writes: 100, windowMs: 1000 }, c.now);
  pacer.pause(3000);
  assert.is(pacer.reserve(1), 3000);
  c.advance(2999);
  assert.is(pacer.reserve(1), 1);
  c.advance(1);
  // The bucket is empty when the pause ends: 10 writes at 100/s wait 100 ms.
  assert.is(pacer.reserve(10), 100);
  c.advance(100);
  assert.is(pacer.reserve(10), 0);
});

Pause('pause(ms) holds writes back even without a budget', () => {
  const c = clock();
  const pacer = new WritePacer(null, c.now);
  pacer.pause(1500);
  assert.is(pacer.reserve(5), 1500);
  c.advance(1500);
  assert.is(pacer.reserve(5), 0);
});

Pause('pause(ms) never shortens an earlier, longer pause', () => {
  const c = clock();
  const pacer = new WritePacer(null, c.now);
  pacer.pause(5000);
  pacer.pause(1000);
  assert.is(pacer.reserve(1), 5000);
});

Pause('resync() takes no credit for the time the first answer took (token, connection)', () => {
  const c = clock();
  const pacer = new WritePacer({ writes: 40, windowMs: 2000 }, c.now);
  assert.is(pacer.reserve(20), 0);
  c.advance(1000);
  pacer.resync();
  // Without resync the second second would have refilled the bucket: Graph only started counting now.
  assert.is(pacer.reserve(40), 1000);
  assert.is(pacer.reserve(20), 0);
});

Pause.run();
