/** The keys a write holds while it is in flight (see `PlannedRequest.objectKey` and `sharedKeys`). */
export interface LockKeys {
  /** The object the write changes: no other write that names it may run beside it. */
  objectKey: string;
  /** Objects the write needs but does not change alone: shared with other such writes. */
  sharedKeys?: readonly string[] | undefined;
}

/** A queued write as the scheduler sees it. */
export interface Schedulable {
  keys: LockKeys;
  /** Not before this time (ms, the caller's clock): a retry waiting out its delay. */
  notBefore: number;
}

/**
 * The per-object lock scheduler of the batch writer, a pure unit: which queued writes may go now so
 * that writes touching the same object keep their input order and never run at the same time. No I/O,
 * no clock of its own.
 * @example
 * const locks = new ObjectLocks();
 * const { batch } = locks.pick(queue, performance.now(), 20);
 * locks.hold(batch); // ...send, then for each answer: locks.release([item])
 */
export class ObjectLocks {
  /** Keys held by writes in flight, with counts: objectKeys (exclusive) and sharedKeys (shared). */
  private readonly exclusive = new Map<string, number>();
  private readonly shared = new Map<string, number>();

  /**
   * The next batch, in queue order, of at most `max` writes: those whose keys clash with no write in
   * flight, no earlier queued write and no other write of the batch, and that are due at `now`. Also
   * says when the first write held back only by its `notBefore` becomes due (Infinity for none).
   * Nothing is held until {@link hold}.
   */
  pick<T extends Schedulable>(queue: readonly T[], now: number, max: number): { batch: T[]; wake: number } {
    const batch: T[] = [];
    const exclusive = new Set(this.exclusive.keys());
    const shared = new Set(this.shared.keys());
    let wake = Infinity;
    for (const p of queue) {
      if (batch.length >= max) break;
      const { objectKey, sharedKeys = [] } = p.keys;
      const blocked =
        exclusive.has(objectKey) || shared.has(objectKey) || sharedKeys.some((k) => exclusive.has(k));
      // An earlier write, sent or not, keeps the keys it names from later ones.
      exclusive.add(objectKey);
      for (const k of sharedKeys) shared.add(k);
      if (blocked) continue;
      if (p.notBefore > now) wake = Math.min(wake, p.notBefore);
      else batch.push(p);
    }
    return { batch, wake };
  }

  /** The writes go out: their keys are held until {@link release}. */
  hold(items: readonly Schedulable[]): void {
    for (const { keys } of items) {
      up(this.exclusive, keys.objectKey);
      for (const k of keys.sharedKeys ?? []) up(this.shared, k);
    }
  }

  /** The writes are answered (or given up): their keys go back. */
  release(items: readonly Schedulable[]): void {
    for (const { keys } of items) {
      down(this.exclusive, keys.objectKey);
      for (const k of keys.sharedKeys ?? []) down(this.shared, k);
    }
  }

  /** True while any write is in flight. */
  get busy(): boolean {
    return this.exclusive.size > 0;
  }
}

const up = (map: Map<string, number>, key: string) => map.set(key, (map.get(key) ?? 0) + 1);

function down(map: Map<string, number>, key: string): void {
  const n = (map.get(key) ?? 0) - 1;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}
