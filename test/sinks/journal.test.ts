import { appendFile, readFile, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { fingerprintFile, openJournal, type JournalInput } from '../../src/sinks/journal.js';
import type { ResultRow } from '../../src/types.js';
import { withDir } from '../helpers/common.js';

const INPUTS: JournalInput[] = [
  { file: 'a.csv', fingerprint: 'sha256:aa' },
  { file: 'b.csv', fingerprint: 'sha256:bb' },
];

const result = (line: number, over: Partial<ResultRow> = {}): ResultRow => ({
  line,
  Command: 'insert',
  '@odata.type': '#microsoft.graph.user',
  id: '',
  status: 'ok',
  httpStatus: '201',
  errorCode: '',
  message: '',
  newId: `00000000-0000-4000-8000-${String(line).padStart(12, '0')}`,
  file: 'a.csv',
  ownerId: '',
  key: '',
  ...over,
});

async function journalError(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_JOURNAL');
    assert.is((error as { exitCode?: number }).exitCode, 2);
    return (error as Error).message;
  }
  throw new Error('no ERR_JOURNAL');
}

const Open = suite('openJournal');

Open('openJournal(new path) writes a header; a rerun finds the finished rows', () =>
  withDir(async (dir) => {
    const path = join(dir, 'run.journal');
    const first = await openJournal(path, INPUTS);
    await first.recordStarted({ file: 'a.csv', line: 2, objectKey: 'users/userPrincipalName=a@contoso.com' });
    await first.recordDone(result(2));
    await first.recordDone(result(3, { file: 'b.csv', status: 'skipped' }));
    assert.equal(first.isDone('a.csv', 2), result(2));
    await first.close();

    const lines = (await readFile(path, 'utf8')).trimEnd().split('\n');
    assert.is(lines.length, 4);
    assert.equal(JSON.parse(lines[0]!), { type: 'journal', version: 1, inputs: INPUTS });

    const again = await openJournal(path, [...INPUTS].reverse());
    assert.equal(again.isDone('a.csv', 2), result(2));
    assert.is(again.isDone('b.csv', 3)?.status, 'skipped');
    assert.is(again.isDone('a.csv', 3), undefined);
    assert.is(again.wasStarted('a.csv', 2), undefined, 'finished creates need no lookup');
    await again.close();
  }),
);

Open('openJournal() keeps creates that started without a result, for a lookup before resending', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const first = await openJournal(path, INPUTS);
    await first.recordStarted({ file: 'a.csv', line: 5, objectKey: 'groups/mailNickname=sales' });
    await first.close();
    const again = await openJournal(path, INPUTS);
    assert.equal(again.wasStarted('a.csv', 5), {
      file: 'a.csv',
      line: 5,
      objectKey: 'groups/mailNickname=sales',
    });
    assert.is(again.isDone('a.csv', 5), undefined);
    await again.close();
  }),
);

Open('openJournal() retries failed rows by default, not with retryFailed false', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const first = await openJournal(path, INPUTS);
    await first.recordStarted({ file: 'a.csv', line: 2 });
    await first.recordDone(result(2, { status: 'failed', httpStatus: '503' }));
    await first.close();
    const retry = await openJournal(path, INPUTS);
    assert.is(retry.isDone('a.csv', 2), undefined);
    assert.ok(retry.wasStarted('a.csv', 2), 'a failed create may still have happened');
    await retry.close();
    const keep = await openJournal(path, INPUTS, { retryFailed: false });
    assert.is(keep.isDone('a.csv', 2)?.status, 'failed');
    await keep.close();
  }),
);

Open('openJournal() does not record planned (dry-run) results', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const journal = await openJournal(path, INPUTS);
    await journal.recordDone(result(2, { status: 'planned' }));
    assert.is(journal.isDone('a.csv', 2), undefined);
    await journal.close();
    assert.is((await readFile(path, 'utf8')).trimEnd().split('\n').length, 1);
  }),
);

Open('openJournal(other content or other files) refuses to reuse the journal', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    await (await openJournal(path, INPUTS)).close();
    const changed = await journalError(
      openJournal(path, [INPUTS[0]!, { file: 'b.csv', fingerprint: 'sha256:XX' }]),
    );
    assert.match(changed, /made for other content of b\.csv/);
    const other = await journalError(openJournal(path, [INPUTS[0]!]));
    assert.match(other, /made for a\.csv, b\.csv, not for a\.csv/);
  }),
);

Open('openJournal(torn last line) drops it and appends after the last whole entry', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const first = await openJournal(path, INPUTS);
    await first.recordDone(result(2));
    await first.recordDone(result(3));
    await first.close();
    // A crash in the middle of the last write: cut the file inside the last line.
    const size = (await stat(path)).size;
    await truncate(path, size - 20);
    const again = await openJournal(path, INPUTS);
    assert.ok(again.isDone('a.csv', 2));
    assert.is(again.isDone('a.csv', 3), undefined, 'the torn entry does not count');
    await again.recordDone(result(3));
    await again.close();
    const lines = (await readFile(path, 'utf8')).split('\n');
    assert.is(lines.length, 4, 'header, 2, 3 and the final newline');
    assert.ok(lines.slice(0, 3).every((l) => JSON.parse(l) !== undefined));
    const third = await openJournal(path, INPUTS);
    assert.ok(third.isDone('a.csv', 3));
    await third.close();
  }),
);

Open('openJournal(every cut point) never loses a whole entry and never fails', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const first = await openJournal(path, INPUTS);
    await first.recordDone(result(2));
    await first.recordStarted({ file: 'a.csv', line: 3 });
    await first.close();
    const whole = await readFile(path);
    const headerEnd = whole.indexOf(10) + 1;
    const doneEnd = whole.indexOf(10, headerEnd) + 1;
    const edges = [0, 1, headerEnd - 1, headerEnd, headerEnd + 1, doneEnd - 1, doneEnd, doneEnd + 1];
    const cuts = new Set([...edges, whole.length - 1, whole.length]);
    for (let cut = 0; cut < whole.length; cut += 7) cuts.add(cut);
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      await writeFile(path, whole.subarray(0, cut));
      const journal = await openJournal(path, INPUTS);
      assert.is(Boolean(journal.isDone('a.csv', 2)), cut >= doneEnd, `cut at ${cut}`);
      assert.is(Boolean(journal.wasStarted('a.csv', 3)), cut === whole.length, `cut at ${cut}`);
      await journal.close();
    }
  }),
);

Open('openJournal(bad line followed by good ones) is corruption, not a torn write', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const first = await openJournal(path, INPUTS);
    await first.recordDone(result(2));
    await first.close();
    await appendFile(path, 'garbage\n' + JSON.stringify({ type: 'done', result: result(3) }) + '\n');
    assert.match(await journalError(openJournal(path, INPUTS)), 'corrupt entry at byte');
  }),
);

Open('openJournal(some other file) refuses it and leaves it untouched', () =>
  withDir(async (dir) => {
    for (const content of ['Command,@odata.type,id\n', 'Command,@odata.type,id', '{"some":"json"}\n']) {
      const path = join(dir, 'not-a-journal');
      await writeFile(path, content);
      assert.match(await journalError(openJournal(path, INPUTS)), 'not a journal file');
      assert.is(await readFile(path, 'utf8'), content);
    }
  }),
);

Open('openJournal() group-commits concurrent records and loses none', () =>
  withDir(async (dir) => {
    const path = join(dir, 'j');
    const journal = await openJournal(path, INPUTS);
    await Promise.all(Array.from({ length: 500 }, (_, i) => journal.recordDone(result(i + 2))));
    await journal.close();
    const again = await openJournal(path, INPUTS);
    for (let i = 0; i < 500; i++) assert.ok(again.isDone('a.csv', i + 2), `line ${i + 2}`);
    await again.close();
  }),
);

Open('openJournal().close() refuses later records', () =>
  withDir(async (dir) => {
    const journal = await openJournal(join(dir, 'j'), INPUTS);
    await journal.close();
    await journal.close();
    try {
      await journal.recordDone(result(2));
      assert.unreachable();
    } catch (error) {
      assert.match((error as Error).message, 'closed');
    }
  }),
);

Open.run();

// ---

const Fingerprint = suite('fingerprintFile');

Fingerprint('fingerprintFile(path) is the sha256 of the bytes', () =>
  withDir(async (dir) => {
    const path = join(dir, 'in.csv');
    await writeFile(path, 'abc');
    assert.is(
      await fingerprintFile(path),
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
  }),
);

Fingerprint.run();
