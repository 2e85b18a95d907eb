import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createSeenIds } from '../../src/streams/seen-ids.js';

const Seen = suite('createSeenIds, spilling to disk');

Seen('agrees with a Set when most ids live on disk: new, repeated, and repeated in case', () => {
  const dir = mkdtempSync(join(tmpdir(), 'seen-test-'));
  try {
    const seen = createSeenIds({ memoryIds: 1000, dir });
    const reference = new Set<string>();
    const ids: string[] = Array.from({ length: 30_000 }, () => randomUUID());
    // First sightings, then repeats of ids spilled long ago and of recent ones, interleaved with new ids.
    const order = [...ids.slice(0, 20_000)];
    for (let i = 0; i < 10_000; i++) order.push(ids[(i * 7919) % 20_000]!, ids[20_000 + i]!);
    order.push(...ids.slice(0, 500).map((id) => id.toUpperCase()));
    for (const id of order) {
      assert.is(seen.add(id), !reference.has(id.toLowerCase()), id);
      reference.add(id.toLowerCase());
    }
    assert.is(seen.size, 30_000);
    const st = seen.stats();
    assert.is(st.inMemory + st.onDisk, 30_000);
    assert.ok(st.runs >= 29, `runs: ${st.runs}`);
    // The Bloom filter spares the disk most new ids: lookups are the repeats and ~1% of the rest.
    assert.ok(st.diskLookups < 10_500 + 0.05 * 30_000, `disk lookups: ${st.diskLookups}`);
    // The spill file is unlinked at once: nothing left in the folder.
    assert.equal(readdirSync(dir), []);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

Seen('memory stays bounded: the in-memory table does not grow past its bound', () => {
  const seen = createSeenIds({ memoryIds: 2048 });
  for (let i = 0; i < 4096; i++) seen.add(randomUUID());
  for (let i = 0; i < 60_000; i++) seen.add(randomUUID());
  const st = seen.stats();
  // The table keeps its size (256 shards of at most 32 slots here); the Bloom filter (≤ 15 bits an id
  // on disk) and the run fences (1 bit an id) grow: ~2 bytes an id in all.
  assert.ok(
    st.memoryBytes <= 256 * 32 * 8 + 4096 + st.onDisk * 2.1,
    `${st.memoryBytes} bytes for ${st.onDisk} on disk`,
  );
  assert.ok(st.inMemory < 2048);
});

Seen('non-GUIDs and the nil GUID are kept apart from the spilled keys', () => {
  const seen = createSeenIds({ memoryIds: 16 });
  const ids: string[] = Array.from({ length: 100 }, () => randomUUID());
  for (const id of ids) assert.ok(seen.add(id));
  assert.ok(seen.add('00000000-0000-0000-0000-000000000000'));
  assert.not.ok(seen.add('00000000-0000-0000-0000-000000000000'));
  assert.ok(seen.add('not-a-guid'));
  assert.not.ok(seen.add('not-a-guid'));
  for (const id of ids) assert.not.ok(seen.add(id));
  assert.is(seen.size, 102);
});

Seen('a temp folder it cannot write to is a one-line ERR_TEMP_FILE naming the folder', () => {
  const seen = createSeenIds({ memoryIds: 16, dir: '/nonexistent/entra-test' });
  try {
    for (let i = 0; i < 16; i++) seen.add(randomUUID());
    assert.unreachable('spilled into a folder that does not exist');
  } catch (e) {
    assert.is((e as { code?: string }).code, 'ERR_TEMP_FILE');
    assert.match((e as Error).message, /\/nonexistent\/entra-test.*TMPDIR/);
  }
});

Seen.run();
