import { Transform } from 'node:stream';
import type { FulfillItem, FulfillMsg } from '../types.js';
import { BatchWriter, type BatchWriterOptions, type WriteItem } from './batch-writer.js';

type Item = FulfillItem & WriteItem;

/** The batch writer as a stage of the reverse stream, and the writer itself (stats, interrupt). */
export interface BatchStage {
  /** A `through` stage: items with a request in, the same items with their `outcome` out, in answer order. */
  through(s: Highland.Stream<FulfillMsg>): Highland.Stream<FulfillMsg>;
  readonly writer: BatchWriter<Item>;
}

/**
 * Lifts the {@link BatchWriter} into the reverse stream with backpressure: the stage takes the next
 * item only once the writer has room for it, so a slow Graph slows the reading of the input. Items
 * that already have an outcome pass through. A fatal error of the writer (credentials, trust) fails
 * the queued rows, which still get their results, and travels on as a `failure` message after them;
 * the stage then takes no more rows, and calls `onFatal` so that the source stops reading.
 */
export function createBatchStage(
  options: Omit<BatchWriterOptions<Item>, 'onResult'> & { onFatal?: (error: Error) => void },
): BatchStage {
  const { onFatal, ...writerOptions } = options;
  const held: FulfillMsg[] = [];
  let fatal = false;
  const transform = new Transform({
    objectMode: true,
    transform(msg: FulfillMsg, _encoding, callback) {
      if (msg.kind === 'failure') {
        // After every outcome: the results sink fails the run once they are written.
        held.push(msg);
        return callback();
      }
      // A row read after the writer failed is not sent, and gets no result (as if never read).
      if (fatal) return callback();
      if (!msg.request || msg.outcome || msg.result) return callback(null, msg);
      writer.push(msg as Item).then(
        () => callback(),
        (error: unknown) => {
          fatal = true;
          onFatal?.(error as Error);
          held.push({ kind: 'failure', error: error as Error });
          callback();
        },
      );
    },
    flush(callback) {
      const end = () => {
        for (const msg of held) this.push(msg);
        callback();
      };
      writer.end().then(end, (error: unknown) => {
        if (!held.some((m) => m.kind === 'failure' && m.error === error))
          held.push({ kind: 'failure', error: error as Error });
        end();
      });
    },
  });
  const writer = new BatchWriter<Item>({
    ...writerOptions,
    // Outcomes leave as they come; the results sink puts them back in input order.
    onResult: (item, outcome) => void transform.push({ ...item, outcome }),
  });
  return {
    through: (s) => s.through(transform) as Highland.Stream<FulfillMsg>,
    writer,
  };
}
