import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  fitSegments,
  formatDuration,
  formatProgress,
  Progress,
  RateMeter,
  type ProgressState,
  type ProgressStream,
} from '../../src/commands/progress.js';
import { PassThrough } from 'node:stream';

const Format = suite('formatProgress');

const state = (over: Partial<ProgressState> = {}): ProgressState => ({
  done: 2400,
  unit: 'rows',
  details: ['2,380 ok, 20 skipped, 0 failed', '2,450 read', '120 batches, 0 throttled'],
  ...over,
});

Format('formatDuration(seconds) reads as seconds, minutes or hours', () => {
  assert.is(formatDuration(0), '0s');
  assert.is(formatDuration(44.6), '45s');
  assert.is(formatDuration(760), '12m 40s');
  assert.is(formatDuration(7500), '2h 05m');
});

Format('formatProgress() with a known total shows the percentage and the ETA at the measured pace', () => {
  assert.is(
    formatProgress('entra fulfill', state({ total: 20_000 }), 100),
    'entra fulfill: 2,400/20,000 rows (12%); ETA 2m 56s; 100 rows/s; 2,380 ok, 20 skipped, 0 failed; 2,450 read; 120 batches, 0 throttled',
  );
});

Format('formatProgress() without a total, or past it, shows the count and the pace only', () => {
  assert.is(
    formatProgress('entra export', state({ unit: 'objects', details: [] }), 1234.4),
    'entra export: 2,400 objects; 1,234 objects/s',
  );
  assert.is(
    formatProgress('entra export', state({ total: 2000, details: [] }), 10),
    'entra export: 2,400 rows; 10 rows/s',
    'a count that was a little off',
  );
  assert.is(
    formatProgress('entra export', state({ total: 20_000, details: [] }), undefined),
    'entra export: 2,400/20,000 rows (12%)',
    'no pace yet: no ETA',
  );
});

Format('formatProgress() says when the write budget sets the pace, and reckons the ETA with it', () => {
  assert.is(
    formatProgress(
      'entra fulfill',
      state({
        total: 20_000,
        paceRate: 20,
        note: "waiting on Graph's write budget (1,200 writes/min)",
        details: [],
      }),
      150,
    ),
    "entra fulfill: 2,400/20,000 rows (12%); waiting on Graph's write budget (1,200 writes/min), ETA 14m 40s; 150 rows/s",
  );
});

Format('formatProgress(…, width) drops the last parts, then cuts, to stay within the terminal', () => {
  const full = formatProgress('entra fulfill', state({ total: 20_000 }), 100);
  assert.ok(full.length > 80);
  const line = formatProgress('entra fulfill', state({ total: 20_000 }), 100, 80);
  assert.ok(line.length <= 79, `${line.length}: ${line}`);
  assert.is(line, 'entra fulfill: 2,400/20,000 rows (12%); ETA 2m 56s; 100 rows/s');
  assert.is(
    formatProgress('entra fulfill', state({ total: 20_000 }), 100, 30),
    'entra fulfill: 2,400/20,000 …',
  );
  assert.is(fitSegments(['a', '', 'b'], undefined), 'a; b');
  assert.is(fitSegments(['abc', 'de'], 4), 'abc');
});

Format.run();

// ---

const Meter = suite('RateMeter');

Meter('RateMeter.sample() gives the pace over the last 30 s, none before 1 s', () => {
  const meter = new RateMeter(30_000);
  assert.is(meter.sample(0, 0), undefined);
  assert.is(meter.sample(500, 1000), undefined);
  assert.is(meter.sample(10_000, 3000), 300, 'a fast start');
  for (let t = 20_000; t <= 60_000; t += 10_000) meter.sample(t, 3000 + ((t - 10_000) / 1000) * 20);
  assert.is(meter.sample(70_000, 4200), 20, 'then the pace of the last 30 s only');
});

Meter.run();

// ---

const Lines = suite('Progress');

function stream(tty: boolean, columns?: number) {
  const out = new PassThrough() as PassThrough & ProgressStream;
  let text = '';
  out.on('data', (c: Buffer) => (text += c.toString()));
  out.isTTY = tty;
  if (columns !== undefined) out.columns = columns;
  return { out, text: () => text };
}

Lines('Progress.tick() on a TTY rewrites one line, cut to the terminal, and stop() clears it', async () => {
  let now = 0;
  let done = 0;
  const s = stream(true, 60);
  const p = new Progress('entra fulfill', () => state({ done, total: 1000 }), {
    stream: s.out,
    now: () => now,
  });
  now = 2000;
  done = 100;
  p.tick();
  now = 4000;
  done = 200;
  p.tick();
  p.stop();
  await new Promise((r) => setImmediate(r));
  const writes = s.text().split('\r\x1b[K');
  assert.equal(writes, [
    '',
    'entra fulfill: 100/1,000 rows (10%); ETA 18s; 50 rows/s',
    'entra fulfill: 200/1,000 rows (20%); ETA 16s; 50 rows/s',
    '',
  ]);
  for (const w of writes) assert.ok(w.length <= 59);
});

Lines('Progress.tick() without a TTY writes whole plain lines', async () => {
  let now = 0;
  const s = stream(false, 40);
  const p = new Progress(
    'entra export',
    () => state({ done: 50, unit: 'objects', details: ['user 50 (1 p)'] }),
    {
      stream: s.out,
      now: () => now,
    },
  );
  now = 10_000;
  p.tick();
  p.stop();
  await new Promise((r) => setImmediate(r));
  assert.is(s.text(), 'entra export: 50 objects; 5 objects/s; user 50 (1 p)\n');
});

Lines('Progress.start() writes nothing when quiet or not enabled', async () => {
  for (const options of [{ quiet: true }, { enabled: false }]) {
    const s = stream(false);
    const p = new Progress('entra export', () => state(), { ...options, stream: s.out, intervalMs: 1 });
    p.start();
    await new Promise((r) => setTimeout(r, 20));
    p.stop();
    assert.is(s.text(), '');
  }
});

Lines.run();
