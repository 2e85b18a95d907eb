/**
 * An insertion-ordered set of linked object ids whose positions never move: removals leave a hole.
 * Delta cursors are offsets into it, so a large group can be paged across requests while its
 * membership changes, without skipping anyone (changes made meanwhile reach the client through the
 * change log anyway).
 *
 * A generated tenant holds millions of links that are only ever read in order: the id → offset index
 * behind `has`, `add` and `delete` is built on first use, and `load` appends without it. The ids of a
 * large set are also packed, 36 ASCII bytes apiece, the first time a delta page reads them: pages then
 * copy them from one place instead of visiting millions of strings scattered over the heap.
 */
const GUID_LENGTH = 36;
/** Smaller sets are read from their strings: packing them would cost more than it saves. */
const PACK_FROM = 64;

export class LinkSet<K extends string = string> {
  private readonly slots: (string | null)[] = [];
  /** What each linked object is (its entity type), so that readers need not look it up. */
  private readonly kinds: (K | undefined)[] = [];
  private index?: Map<string, number>;
  private live = 0;
  /** Ids as ASCII, GUID_LENGTH bytes apiece, once packed. */
  private packed?: Buffer;
  /** False once an id of another length came: such a set is never packed. */
  private packable = true;

  /** Number of live links. */
  get size(): number {
    return this.live;
  }

  /** Upper bound for offsets (live links and holes). */
  get length(): number {
    return this.slots.length;
  }

  has(id: string): boolean {
    return this.indexed().has(id);
  }

  /** Adds `id` (of kind `kind`); false when it was already there. */
  add(id: string, kind?: K): boolean {
    const index = this.indexed();
    if (index.has(id)) return false;
    index.set(id, this.slots.length);
    this.append(id, kind);
    return true;
  }

  /**
   * Appends a link known not to be there yet (bulk loading: the caller guarantees it). Unchecked
   * only while no index has been built; afterwards it behaves like `add`.
   */
  load(id: string, kind?: K): void {
    if (this.index) this.add(id, kind);
    else this.append(id, kind);
  }

  /** Removes `id`; false when it was not there. */
  delete(id: string): boolean {
    const index = this.indexed();
    const at = index.get(id);
    if (at === undefined) return false;
    this.slots[at] = null;
    this.kinds[at] = undefined;
    index.delete(id);
    this.live--;
    return true;
  }

  /** The id at an offset, or null for a hole. */
  at(offset: number): string | null {
    return this.slots[offset] ?? null;
  }

  /** The kind given with the id at an offset. */
  kindAt(offset: number): K | undefined {
    return this.kinds[offset];
  }

  /**
   * Copies the id at an offset into `target` as ASCII; returns the bytes written. The caller checks
   * `at(offset)` first: holes keep their old bytes.
   */
  writeId(offset: number, target: Buffer, at: number): number {
    if (!this.packed && this.packable && this.slots.length >= PACK_FROM) this.pack();
    const packed = this.packed;
    if (!packed) return target.write(this.slots[offset]!, at, 'latin1');
    // 36 bytes: a plain loop beats Buffer#copy's argument checks.
    const from = offset * GUID_LENGTH;
    for (let i = 0; i < GUID_LENGTH; i++) target[at + i] = packed[from + i]!;
    return GUID_LENGTH;
  }

  /** Live ids in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const id of this.slots) if (id !== null) yield id;
  }

  private append(id: string, kind: K | undefined): void {
    const offset = this.slots.length;
    this.slots.push(id);
    this.kinds.push(kind);
    this.live++;
    if (id.length !== GUID_LENGTH) {
      this.packable = false;
      this.packed = undefined;
    }
    if (!this.packed) return;
    if ((offset + 1) * GUID_LENGTH > this.packed.length) {
      const bigger = Buffer.allocUnsafe(offset * 2 * GUID_LENGTH);
      this.packed.copy(bigger);
      this.packed = bigger;
    }
    this.packed.write(id, offset * GUID_LENGTH, 'latin1');
  }

  private pack(): void {
    const packed = Buffer.allocUnsafe(Math.ceil(this.slots.length * 1.25) * GUID_LENGTH);
    this.slots.forEach((id, offset) => {
      if (id !== null) packed.write(id, offset * GUID_LENGTH, 'latin1');
    });
    this.packed = packed;
  }

  private indexed(): Map<string, number> {
    if (!this.index) {
      this.index = new Map();
      this.slots.forEach((id, at) => {
        if (id !== null) this.index!.set(id, at);
      });
    }
    return this.index;
  }
}
