import _ from 'highland';

/** Collects every value of a highland stream into an array. */
export function collect<T>(stream: Highland.Stream<T>): Promise<T[]> {
  return new Promise((resolve, reject) => {
    stream.stopOnError(reject).toArray(resolve);
  });
}

/** A highland stream over an array. */
export function fromArray<T>(items: T[]): Highland.Stream<T> {
  return _(items);
}
