import _ from 'highland';

/**
 * Lifts an async per-item function into a highland `through` stage: one item at a time, in order,
 * the next pulled only once the function has settled (backpressure). A rejection travels down the
 * stream as an error. Returning `undefined` drops the item.
 * @example s.through(throughAsync(async (row) => (await journal.isDone(row)) ? undefined : row))
 */
export function throughAsync<T, U>(
  fn: (item: T) => Promise<U | undefined> | U | undefined,
): (s: Highland.Stream<T>) => Highland.Stream<U> {
  return (s) =>
    s.consume<U>((error, item, push, next) => {
      if (error) {
        push(error);
        next();
      } else if (_.isNil(item)) push(null, _.nil);
      else
        Promise.resolve()
          .then(() => fn(item))
          .then(
            (out) => {
              if (out !== undefined) push(null, out);
              next();
            },
            (e: unknown) => {
              push(e instanceof Error ? e : new Error(String(e)));
              next();
            },
          );
    });
}
