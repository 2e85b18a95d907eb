import _ from 'highland';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createInputWindow } from '../../src/streams/input-window.js';
import type { FulfillMsg } from '../../src/types.js';

const row = (seq: number): FulfillMsg => ({
  kind: 'row',
  seq,
  row: { kind: 'invalid', file: 'in.csv', line: seq + 2, command: 'x', odataType: '', id: '', message: '' },
});

const Window = suite('createInputWindow');

Window('createInputWindow(max).admit holds a row max ahead of the next result until advance()', async () => {
  const window = createInputWindow(2);
  const admitted: number[] = [];
  const done = new Promise<void>((resolve) =>
    window
      .admit(_<FulfillMsg>([0, 1, 2, 3].map(row)))
      .each((m) => void admitted.push((m as { seq: number }).seq))
      .done(resolve),
  );
  // Row 2 is held (a fact the window reports), rows 0 and 1 went through.
  while (window.held === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  assert.equal(admitted, [0, 1]);
  window.advance();
  window.advance();
  await done;
  assert.equal(admitted, [0, 1, 2, 3]);
  assert.is(window.next, 2);
});

Window('createInputWindow().open() lets every waiting row in, and failures always pass', async () => {
  const window = createInputWindow(1);
  const failure: FulfillMsg = { kind: 'failure', error: new Error('x') };
  const out = window
    .admit(_<FulfillMsg>([row(0), failure, row(1), row(2)]))
    .collect()
    .toPromise(Promise);
  window.open();
  assert.equal(
    (await out).map((m) => (m.kind === 'row' ? m.seq : m.kind)),
    [0, 'failure', 1, 2],
  );
});

Window.run();
