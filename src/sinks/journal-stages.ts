import { throughAsync } from '../streams/through-async.js';
import type { FulfillItem, FulfillMsg } from '../types.js';
import type { Journal } from './journal.js';

/**
 * The journal's stages in the reverse stream (`--journal F`): before the request builder, rows an
 * earlier run finished get that run's result and are not sent again, and creates an interrupted run
 * started are looked up first; before each first send, creates are recorded `started`; after the
 * writer, finished rows are recorded `done`.
 */
export function skipJournaled(
  journal: Journal,
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return (s) =>
    s.map((msg) => {
      if (msg.kind !== 'row' || msg.row.kind === 'invalid') return msg;
      const { file, line } = msg.row;
      const done = journal.isDone(file, line);
      if (done)
        return {
          ...msg,
          result: {
            ...done,
            message: done.message ? `${done.message} (journal)` : 'done in an earlier run (journal)',
          },
        };
      return journal.wasStarted(file, line) ? { ...msg, lookupFirst: 'started' } : msg;
    });
}

/** The batch writer's `beforeSend` part of the journal: creates are recorded `started`. */
export function recordStarted(journal: Journal): (items: FulfillItem[]) => Promise<void> {
  return async (items) => {
    await Promise.all(
      items
        .filter((i) => i.row.kind === 'object' && i.row.command === 'insert')
        .map((i) =>
          journal.recordStarted({ file: i.row.file, line: i.row.line, objectKey: i.request?.objectKey }),
        ),
    );
  };
}

/**
 * After the writer: the result of every row that was sent is recorded `done`, except rows the run
 * stopped before sending (`ERR_INTERRUPTED`), which a rerun sends.
 */
export function recordDone(
  journal: Journal,
): (s: Highland.Stream<FulfillMsg>) => Highland.Stream<FulfillMsg> {
  return throughAsync(async (msg: FulfillMsg) => {
    if (msg.kind === 'row' && msg.request && msg.outcome && msg.result)
      if (msg.outcome.status !== 'failed' || msg.outcome.errorCode !== 'ERR_INTERRUPTED')
        await journal.recordDone(msg.result);
    return msg;
  });
}
