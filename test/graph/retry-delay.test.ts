import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { isTransientStatus, retryDelay } from '../../src/graph/retry-delay.js';

const RetryDelay = suite('retryDelay');

RetryDelay('retryDelay() doubles the backoff per attempt, up to maxBackoffMs', () => {
  const policy = { backoffMs: 500, maxBackoffMs: 3000 };
  assert.equal(
    [1, 2, 3, 4, 5].map((attemptCount) => retryDelay({ attemptCount, retryPolicy: policy })),
    [500, 1000, 2000, 3000, 3000],
  );
});

RetryDelay('retryDelay({jitter}) spreads the backoff over half to all of its value', () => {
  const policy = { backoffMs: 1000, jitter: true };
  assert.is(retryDelay({ attemptCount: 2, retryPolicy: policy, random: () => 0 }), 1000);
  assert.is(retryDelay({ attemptCount: 2, retryPolicy: policy, random: () => 1 }), 2000);
});

RetryDelay('retryDelay({retryAfter}) waits what the server asked, by default exactly', () => {
  const policy = { backoffMs: 1000, jitter: true };
  assert.is(retryDelay({ attemptCount: 5, retryAfter: 200, retryPolicy: policy }), 200);
  assert.is(retryDelay({ attemptCount: 1, retryAfter: 7000, retryPolicy: policy }), 7000);
});

RetryDelay("retryDelay({retryAfter: 'floor'}) waits at least the backoff and at most maxDelayMs", () => {
  const policy = { backoffMs: 1000, retryAfter: 'floor' as const, maxDelayMs: 5000 };
  assert.is(retryDelay({ attemptCount: 2, retryAfter: 500, retryPolicy: policy }), 2000);
  assert.is(retryDelay({ attemptCount: 1, retryAfter: 3000, retryPolicy: policy }), 3000);
  assert.is(retryDelay({ attemptCount: 1, retryAfter: 60_000, retryPolicy: policy }), 5000);
  assert.is(retryDelay({ attemptCount: 1, retryAfter: NaN, retryPolicy: policy }), 1000);
});

RetryDelay.run();

// ---

const Transient = suite('isTransientStatus');

Transient(
  'isTransientStatus(status, attempt) retries 429, 503 and 504 always, 500 three times, others never',
  () => {
    for (const status of [429, 503, 504]) assert.ok(isTransientStatus(status, 8), String(status));
    assert.equal(
      [1, 2, 3, 4].map((n) => isTransientStatus(500, n)),
      [true, true, true, false],
    );
    for (const status of [400, 401, 403, 404, 410, 501, 502])
      assert.not.ok(isTransientStatus(status, 1), String(status));
  },
);

Transient.run();
