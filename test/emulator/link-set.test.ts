import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { LinkSet } from '../../src/emulator/link-set.js';

const Add = suite('LinkSet.add');

Add('add(id) appends in insertion order and answers false for an id already there', () => {
  const set = new LinkSet();
  assert.is(set.add('a'), true);
  assert.is(set.add('b'), true);
  assert.is(set.add('a'), false);
  assert.equal([...set], ['a', 'b']);
  assert.is(set.size, 2);
  assert.is(set.length, 2);
  assert.ok(set.has('a'));
  assert.not.ok(set.has('c'));
});

Add('load(id) appends without an index; once has() built one, it checks like add()', () => {
  const set = new LinkSet();
  set.load('a');
  set.load('b');
  assert.is(set.size, 2);
  assert.ok(set.has('b'));
  set.load('b');
  assert.equal([...set], ['a', 'b']);
  set.load('c');
  assert.equal([...set], ['a', 'b', 'c']);
});

Add('writeId(offset, buf, at) writes ids of small and large sets, packed or not, and after changes', () => {
  const guid = (i: number) => `693acd06-2877-4339-8ade-${String(i).padStart(12, '0')}`;
  const read = (set: LinkSet, offset: number) => {
    const buf = Buffer.alloc(40);
    return buf.toString('latin1', 0, set.writeId(offset, buf, 0));
  };
  const small = new LinkSet();
  small.load(guid(1));
  assert.is(read(small, 0), guid(1));
  const large = new LinkSet();
  for (let i = 0; i < 100; i++) large.load(guid(i));
  assert.is(read(large, 99), guid(99)); // packs
  large.delete(guid(5));
  for (let i = 100; i < 300; i++) large.add(guid(i)); // grows the packed copy
  assert.is(read(large, 299), guid(299));
  assert.is(read(large, 6), guid(6));
  large.add('x-1');
  assert.is(read(large, 300), 'x-1');
  assert.is(read(large, 7), guid(7), 'after a short id every id comes from its string');
});

Add.run();

// ---

const Delete = suite('LinkSet.delete');

Delete('delete(id) leaves a hole: offsets of later links do not move', () => {
  const set = new LinkSet();
  for (const id of ['a', 'b', 'c']) set.add(id);
  assert.is(set.delete('b'), true);
  assert.is(set.delete('b'), false);
  assert.is(set.delete('zz'), false);
  assert.is(set.size, 2);
  assert.is(set.length, 3);
  assert.is(set.at(0), 'a');
  assert.is(set.at(1), null);
  assert.is(set.at(2), 'c');
  assert.equal([...set], ['a', 'c']);
  assert.not.ok(set.has('b'));
});

Delete('delete(id) then add(id) puts the link at the end, at a new offset', () => {
  const set = new LinkSet();
  set.add('a');
  set.add('b');
  set.delete('a');
  assert.is(set.add('a'), true);
  assert.equal([...set], ['b', 'a']);
  assert.is(set.length, 3);
  assert.is(set.at(2), 'a');
});

Delete.run();

// ---

const At = suite('LinkSet.at');

At('at(offset) is null past the end and for holes', () => {
  const set = new LinkSet();
  assert.is(set.at(0), null);
  set.add('x');
  assert.is(set.at(0), 'x');
  assert.is(set.at(5), null);
});

At.run();
