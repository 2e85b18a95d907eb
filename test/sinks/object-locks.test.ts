import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { ObjectLocks, type Schedulable } from '../../src/sinks/object-locks.js';

const write = (name: string, objectKey: string, sharedKeys?: string[], notBefore = 0) => ({
  name,
  keys: { objectKey, ...(sharedKeys ? { sharedKeys } : {}) },
  notBefore,
});
const names = (items: { name: string }[]) => items.map((i) => i.name);

const Pick = suite('ObjectLocks.pick');

Pick('pick(queue) keeps later writes of an object behind the first, in queue order', () => {
  const locks = new ObjectLocks();
  const queue = [write('a1', 'a'), write('b1', 'b'), write('a2', 'a'), write('c1', 'c')];
  assert.equal(names(locks.pick(queue, 0, 20).batch), ['a1', 'b1', 'c1']);
});

Pick('pick(queue) lets writes that share a key run together, but not beside the key’s own writes', () => {
  const locks = new ObjectLocks();
  const queue = [
    write('add u1', 'g/m/u1', ['g', 'u1']),
    write('add u2', 'g/m/u2', ['g', 'u2']),
    write('patch g', 'g'),
    write('add u3', 'g/m/u3', ['g', 'u3']),
  ];
  // The patch waits for the adds before it; the add after the patch waits for the patch.
  assert.equal(names(locks.pick(queue, 0, 20).batch), ['add u1', 'add u2']);
});

Pick('pick(queue, now, max) stops at max and says when a delayed write becomes due', () => {
  const locks = new ObjectLocks();
  const queue = [write('late', 'x', undefined, 500), write('b', 'b'), write('c', 'c'), write('d', 'd')];
  const { batch, wake } = locks.pick(queue, 100, 2);
  assert.equal(names(batch), ['b', 'c']);
  assert.is(wake, 500);
  assert.is(locks.pick([write('a', 'a')], 0, 20).wake, Infinity);
});

Pick.run();

// ---

const Hold = suite('ObjectLocks.hold');

Hold('hold(batch) blocks the keys until release(), counting writes that share them', () => {
  const locks = new ObjectLocks();
  const m1: Schedulable = write('m1', 'g/m/u1', ['g']);
  const m2: Schedulable = write('m2', 'g/m/u2', ['g']);
  locks.hold([m1, m2]);
  assert.ok(locks.busy);
  const patch = [write('patch g', 'g'), write('add u3', 'g/m/u3', ['g'])];
  assert.equal(names(locks.pick(patch, 0, 20).batch), []);
  locks.release([m1]);
  assert.equal(names(locks.pick(patch, 0, 20).batch), [], 'm2 still holds g');
  locks.release([m2]);
  assert.not.ok(locks.busy);
  assert.equal(names(locks.pick(patch, 0, 20).batch), ['patch g']);
});

Hold.run();
