/**
 * An insertion-ordered set of linked object ids whose positions never move: removals leave a hole.
 * Delta cursors are offsets into it, so a large group can be paged across requests while its
 * membership changes, without skipping anyone (changes made meanwhile reach the client through the
 * change log anyway).
 */
export class LinkSet {
  private readonly slots: (string | null)[] = [];
  private readonly index = new Map<string, number>();

  /** Number of live links. */
  get size(): number {
    return this.index.size;
  }

  /** Upper bound for offsets (live links and holes). */
  get length(): number {
    return this.slots.length;
  }

  has(id: string): boolean {
    return this.index.has(id);
  }

  /** Adds `id`; false when it was already there. */
  add(id: string): boolean {
    if (this.index.has(id)) return false;
    this.index.set(id, this.slots.length);
    this.slots.push(id);
    return true;
  }

  /** Removes `id`; false when it was not there. */
  delete(id: string): boolean {
    const at = this.index.get(id);
    if (at === undefined) return false;
    this.slots[at] = null;
    this.index.delete(id);
    return true;
  }

  /** The id at an offset, or null for a hole. */
  at(offset: number): string | null {
    return this.slots[offset] ?? null;
  }

  /** Live ids in insertion order. */
  *[Symbol.iterator](): IterableIterator<string> {
    for (const id of this.slots) if (id !== null) yield id;
  }
}
