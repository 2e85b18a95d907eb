import { closeSync, mkdtempSync, openSync, readSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '../errors.js';

/** The ids met so far in the complete rounds of a run; `add` is true the first time an id is met. */
export interface SeenIds {
  add(id: string): boolean;
  readonly size: number;
}

export interface SeenIdsOptions {
  /** Ids kept in the in-memory table before they move to disk (default 262,144: 2-4 MB). */
  memoryIds?: number;
  /** Folder of the spill file (default: the OS temp folder); the file is unlinked at once where the OS allows. */
  dir?: string;
  /** Slots to start with (the table grows as needed up to `memoryIds`). */
  initialCapacity?: number;
}

/** What the seen-id table holds now, for tests and `--verbose`. */
export interface SeenIdsStats {
  inMemory: number;
  onDisk: number;
  runs: number;
  /** Bytes held in memory by the table, the Bloom filter and the run indexes. */
  memoryBytes: number;
  /** Lookups on disk (the Bloom filter said "maybe"). */
  diskLookups: number;
}

const HEX = new Int8Array(128).fill(-1);
for (let i = 0; i < 16; i++) {
  HEX['0123456789abcdef'.charCodeAt(i)] = i;
  HEX['0123456789ABCDEF'.charCodeAt(i)] = i;
}

/** Reads `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx` into four 32-bit words; false for anything else. */
function parseGuid(id: string, out: Uint32Array): boolean {
  if (id.length !== 36) return false;
  let word = 0;
  let w = 0;
  for (let i = 0; i < 36; i++) {
    const c = id.charCodeAt(i);
    if (i === 8 || i === 13 || i === 18 || i === 23) {
      if (c !== 45) return false;
      continue;
    }
    const v = c < 128 ? HEX[c]! : -1;
    if (v < 0) return false;
    word = (word << 4) | v;
    if (i === 7 || i === 17 || i === 27 || i === 35) {
      out[w++] = word >>> 0;
      word = 0;
    }
  }
  return true;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;
/** Keys per fence (one in-memory key per block of the run file): a lookup reads one block. */
const BLOCK = 64;
/** Bits of the Bloom filter per key on disk, at its fullest (about 1% false positives). */
const BLOOM_BITS = 10;
/** Bits of one Bloom block: every key sets its bits in a single 64-byte block (one cache line). */
const BLOOM_BLOCK = 512;

const hash = (a: number, b: number): number => {
  const h = Math.imul(a ^ Math.imul(b, 0x9e3779b1), 0x27d4eb2d);
  return (h ^ (h >>> 15)) >>> 0;
};

/**
 * A blocked Bloom filter of 64-bit keys (a, b): the block from `a`, seven bits in it from `b`.
 * The keys are already random (folded GUIDs), so no more hashing than a mix per bit.
 */
class Bloom {
  readonly words: Uint32Array;
  private readonly blocks: number;
  constructor(readonly capacity: number) {
    this.blocks = Math.max(1, Math.ceil((capacity * BLOOM_BITS) / BLOOM_BLOCK));
    this.words = new Uint32Array(this.blocks * (BLOOM_BLOCK / 32));
  }

  private probe(a: number, b: number, set: boolean): boolean {
    const base = Math.floor((a / 4294967296) * this.blocks) * (BLOOM_BLOCK / 32);
    let h = b;
    for (let i = 0; i < 7; i++) {
      h = Math.imul(h ^ (h >>> 16), 0x45d9f3b) ^ i;
      const bit = (h >>> 23) & (BLOOM_BLOCK - 1);
      const word = base + (bit >>> 5);
      const mask = 1 << (bit & 31);
      if (set) this.words[word]! |= mask;
      else if ((this.words[word]! & mask) === 0) return false;
    }
    return true;
  }

  add(a: number, b: number): void {
    this.probe(a, b, true);
  }

  has(a: number, b: number): boolean {
    return this.probe(a, b, false);
  }
}

/** A sorted run of keys in the spill file: `count` keys of 8 bytes from `offset`, one fence per block. */
interface Run {
  offset: number;
  count: number;
  fence: BigUint64Array;
  last: bigint;
}

/**
 * A memory-bounded set of object ids. A GUID is folded to a 64-bit key (its two halves XORed; Graph's
 * object ids are random GUIDs). The newest keys sit in open-addressing tables of 32-bit words (8 bytes a
 * slot, load ≤ 0.75, 256 shards that grow one at a time so growing never holds two copies). When
 * `memoryIds` keys are there, they are sorted and appended to a spill file as a run, and the table
 * starts over: memory stays at a few MB whatever the tenant (issue 14: flat memory up to millions of
 * objects). Keys on disk are behind a blocked Bloom filter (10-15 bits a key, rebuilt half as large
 * again from the runs when full): a new id, the common case, is answered from memory; a "maybe"
 * (about 1 in 100, or an id seen again) reads one 512-byte block per run. Two ids of one run share a
 * key with probability about n²/2⁶⁵ (3·10⁻⁸ for a million): the second would be written as `update`
 * instead of `insert`, which consumers apply as an upsert anyway. Ids that are not GUIDs go to a
 * plain Set (Graph's object ids are GUIDs).
 */
export function createSeenIds(options: SeenIdsOptions | number = {}): SeenIds & { stats(): SeenIdsStats } {
  const o = typeof options === 'number' ? { initialCapacity: options } : options;
  const memoryIds = Math.max(16, o.memoryIds ?? 262_144);
  const SHARDS = 256;
  let perShard = 16;
  while (perShard * SHARDS < (o.initialCapacity ?? 1024)) perShard *= 2;
  const shards = Array.from({ length: SHARDS }, () => ({
    keys: new Uint32Array(perShard * 2),
    capacity: perShard,
    count: 0,
  }));
  let inMemory = 0;
  let onDisk = 0;
  let zero = false;
  let diskLookups = 0;
  const others = new Set<string>();
  const k = new Uint32Array(4);
  const runs: Run[] = [];
  let bloom: Bloom | undefined;
  let fd: number | undefined;
  let fileEnd = 0;

  const insert = (shard: (typeof shards)[number], h: number, a: number, b: number): boolean => {
    const mask = shard.capacity - 1;
    let slot = h & mask;
    const keys = shard.keys;
    for (;;) {
      const i = slot * 2;
      const x = keys[i]!;
      const y = keys[i + 1]!;
      if ((x | y) === 0) {
        keys[i] = a;
        keys[i + 1] = b;
        shard.count++;
        return true;
      }
      if (x === a && y === b) return false;
      slot = (slot + 1) & mask;
    }
  };
  const has = (shard: (typeof shards)[number], h: number, a: number, b: number): boolean => {
    const mask = shard.capacity - 1;
    const keys = shard.keys;
    for (let slot = h & mask; ; slot = (slot + 1) & mask) {
      const x = keys[slot * 2]!;
      const y = keys[slot * 2 + 1]!;
      if ((x | y) === 0) return false;
      if (x === a && y === b) return true;
    }
  };
  const grow = (shard: (typeof shards)[number]): void => {
    const old = shard.keys;
    shard.capacity *= 2;
    shard.keys = new Uint32Array(shard.capacity * 2);
    shard.count = 0;
    for (let i = 0; i < old.length; i += 2)
      if ((old[i]! | old[i + 1]!) !== 0)
        insert(shard, hash(old[i]!, old[i + 1]!) >>> 8, old[i]!, old[i + 1]!);
  };

  const openFile = (): number => {
    // Closed when the table is collected (a program may run many exports in one process).
    const parent = o.dir ?? tmpdir();
    let dir: string;
    let f: number;
    try {
      dir = mkdtempSync(join(parent, 'entra-seen-'));
      f = openSync(join(dir, 'ids'), 'w+', 0o600);
    } catch (e) {
      throw new ToolError(
        'ERR_TEMP_FILE',
        `cannot write the ids of the complete round to a temp file in ${parent} (${(e as Error).message}); set TMPDIR (TEMP on Windows) to a writable folder`,
        { cause: e },
      );
    }
    const path = join(dir, 'ids');
    const file = { fd: f, open: true };
    closer.register(self, file);
    try {
      // Unlinked while open: nothing to clean up, even after a kill (POSIX).
      unlinkSync(path);
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // Windows keeps an open file: removed at exit instead.
      process.once('exit', () => {
        closeFile(file);
        rmSync(dir, { recursive: true, force: true });
      });
    }
    return f;
  };

  /** The key (a, b) as one 64-bit word of `u32` at pair `i`, in the platform's byte order. */
  const put = (u32: Uint32Array, i: number, a: number, b: number) => {
    u32[2 * i + (LITTLE_ENDIAN ? 1 : 0)] = a;
    u32[2 * i + (LITTLE_ENDIAN ? 0 : 1)] = b;
  };
  const split = (v: bigint): [number, number] => [Number(v >> 32n), Number(v & 0xffffffffn)];

  /** Adds every key of the runs to a new Bloom filter of `capacity`. */
  const rebuildBloom = (capacity: number): Bloom => {
    const next = new Bloom(capacity);
    const chunk = new BigUint64Array(8192);
    const bytes = new Uint8Array(chunk.buffer);
    for (const run of runs)
      for (let done = 0; done < run.count;) {
        const n = Math.min(chunk.length, run.count - done);
        readSync(fd!, bytes, 0, n * 8, run.offset + done * 8);
        for (let i = 0; i < n; i++) next.add(...split(chunk[i]!));
        done += n;
      }
    return next;
  };

  /** Moves the in-memory keys to a sorted run on disk and empties the table. */
  const spill = (): void => {
    const keys = new BigUint64Array(inMemory);
    const u32 = new Uint32Array(keys.buffer);
    fd ??= openFile();
    let n = 0;
    for (const shard of shards) {
      const s = shard.keys;
      for (let i = 0; i < s.length; i += 2) if ((s[i]! | s[i + 1]!) !== 0) put(u32, n++, s[i]!, s[i + 1]!);
      s.fill(0);
      shard.count = 0;
    }
    keys.sort();
    const bytes = new Uint8Array(keys.buffer);
    for (let at = 0; at < bytes.length;) at += writeSync(fd, bytes, at, bytes.length - at, fileEnd + at);
    const fence = new BigUint64Array(Math.ceil(n / BLOCK));
    for (let i = 0; i < fence.length; i++) fence[i] = keys[i * BLOCK]!;
    runs.push({ offset: fileEnd, count: n, fence, last: keys[n - 1]! });
    fileEnd += bytes.length;
    onDisk += n;
    inMemory = 0;
    if (!bloom || onDisk > bloom.capacity)
      bloom = rebuildBloom(Math.max(2 * memoryIds, Math.ceil(1.5 * onDisk)));
    else for (let i = 0; i < n; i++) bloom.add(...split(keys[i]!));
  };

  const block = new BigUint64Array(BLOCK);
  const blockBytes = new Uint8Array(block.buffer);
  /** True when (a, b) is in one of the runs on disk. */
  const onDiskHas = (a: number, b: number): boolean => {
    diskLookups++;
    const key = (BigInt(a) << 32n) | BigInt(b);
    for (const run of runs) {
      const { fence } = run;
      if (key < fence[0]! || key > run.last) continue;
      let lo = 0;
      let hi = fence.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >>> 1;
        if (fence[mid]! <= key) lo = mid;
        else hi = mid - 1;
      }
      const n = Math.min(BLOCK, run.count - lo * BLOCK);
      readSync(fd!, blockBytes, 0, n * 8, run.offset + lo * BLOCK * 8);
      for (let i = 0; i < n; i++) {
        const v = block[i]!;
        if (v === key) return true;
        if (v > key) break;
      }
    }
    return false;
  };

  const self = {
    add(id: string): boolean {
      if (!parseGuid(id, k)) {
        if (others.has(id)) return false;
        others.add(id);
        return true;
      }
      const a = (k[0]! ^ k[2]!) >>> 0;
      const b = (k[1]! ^ k[3]!) >>> 0;
      // The all-zero key marks an empty slot, so the ids folding to it are tracked apart.
      if ((a | b) === 0) return zero ? false : (zero = true);
      const h = hash(a, b);
      const shard = shards[h & 0xff]!;
      if (bloom && !has(shard, h >>> 8, a, b) && bloom.has(a, b) && onDiskHas(a, b)) return false;
      if ((shard.count + 1) * 4 > shard.capacity * 3) grow(shard);
      const added = insert(shard, h >>> 8, a, b);
      if (added && ++inMemory >= memoryIds) spill();
      return added;
    },
    get size() {
      return inMemory + onDisk + (zero ? 1 : 0) + others.size;
    },
    stats(): SeenIdsStats {
      let memoryBytes = bloom ? bloom.words.byteLength : 0;
      for (const s of shards) memoryBytes += s.keys.byteLength;
      for (const r of runs) memoryBytes += r.fence.byteLength;
      return { inMemory, onDisk, runs: runs.length, memoryBytes, diskLookups };
    },
  };
  return self;
}

function closeFile(file: { fd: number; open: boolean }): void {
  if (!file.open) return;
  file.open = false;
  closeSync(file.fd);
}
const closer = new FinalizationRegistry<{ fd: number; open: boolean }>(closeFile);
