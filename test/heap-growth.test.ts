import { spawnSync } from 'node:child_process';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { entraCli } from '../bin/cli.js';
import { EXPORT_HEAP_GROWING_PERCENT, heapTuning, tuneHeapForExport } from '../src/heap-growth.js';

const Heap = suite('export: V8 heap growth');

Heap(
  'entra export sets the heap growth before it reads anything, even a run that fails at once',
  async () => {
    const exitCode = process.exitCode;
    const write = process.stderr.write.bind(process.stderr);
    let stderr = '';
    process.stderr.write = (chunk: string) => ((stderr += chunk), true);
    try {
      await entraCli(['export', '--settings', '/nonexistent/appsettings.json']).parseAsync();
    } finally {
      process.stderr.write = write;
      process.exitCode = exitCode;
    }
    assert.match(stderr, /appsettings/);
    const expected = /heap[-_]growing[-_]percent/.test(process.env.NODE_OPTIONS ?? '')
      ? 'user'
      : `--heap-growing-percent=${EXPORT_HEAP_GROWING_PERCENT}`;
    assert.is(heapTuning(), expected);
  },
);

Heap('the flag set is twice the live data, and a setting of the user is kept', () => {
  const set: string[] = [];
  const options = process.env.NODE_OPTIONS;
  try {
    delete process.env.NODE_OPTIONS;
    assert.is(
      tuneHeapForExport((f) => set.push(f)),
      '--heap-growing-percent=100',
    );
    assert.equal(set, ['--heap-growing-percent=100']);
    process.env.NODE_OPTIONS = '--heap-growing-percent=30 --max-old-space-size=512';
    assert.is(
      tuneHeapForExport((f) => set.push(f)),
      'user',
    );
    assert.equal(set, ['--heap-growing-percent=100']);
    assert.is(heapTuning(), 'user');
  } finally {
    if (options === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = options;
  }
});

Heap("this Node's V8 knows the flag (else it would print an unrecognized flag and change nothing)", () => {
  const run = spawnSync(
    process.execPath,
    [`--heap-growing-percent=${EXPORT_HEAP_GROWING_PERCENT}`, '-e', '0'],
    {
      encoding: 'utf8',
      env: { ...process.env, NODE_OPTIONS: '' },
    },
  );
  assert.is(run.stderr, '');
  assert.is(run.status, 0);
  const unknown = spawnSync(process.execPath, ['--heap-growing-percentage=100', '-e', '0'], {
    encoding: 'utf8',
  });
  assert.is.not(unknown.status, 0);
});

Heap.run();
