import type { FulfillMsg } from '../types.js';
import { throughAsync } from './through-async.js';

/**
 * How far reading may run ahead of the results: the reverse stream answers rows out of order (Graph
 * answers batches as it pleases) and the results sink puts them back in input order, holding the
 * early ones. The window bounds what it holds: {@link InputWindow.admit} lets row `seq` in only while
 * `seq` is less than `max` rows ahead of the next result to write, which the sink moves with
 * {@link InputWindow.advance}.
 */
export interface InputWindow {
  /** A `through` stage that holds a row back while it is too far ahead. */
  admit<T extends FulfillMsg>(s: Highland.Stream<T>): Highland.Stream<T>;
  /** The results sink wrote the next row in order. */
  advance(): void;
  /** Lets every waiting row in (an interrupted run drains what it has). */
  open(): void;
  /** The seq of the next result the sink will write. */
  readonly next: number;
  /** Rows held back now. */
  readonly held: number;
}

export function createInputWindow(max: number): InputWindow {
  let next = 0;
  let opened = false;
  let waiting: { seq: number; wake: () => void }[] = [];
  const wakeDue = () => {
    const still: typeof waiting = [];
    for (const w of waiting)
      if (opened || w.seq - next < max) w.wake();
      else still.push(w);
    waiting = still;
  };
  return {
    admit: <T extends FulfillMsg>(s: Highland.Stream<T>) =>
      throughAsync<T, T>((item) =>
        item.kind !== 'row' || opened || item.seq - next < max
          ? item
          : new Promise<T>((resolve) => waiting.push({ seq: item.seq, wake: () => resolve(item) })),
      )(s),
    advance() {
      next++;
      if (waiting.length) wakeDue();
    },
    open() {
      opened = true;
      wakeDue();
    },
    get next() {
      return next;
    },
    get held() {
      return waiting.length;
    },
  };
}
