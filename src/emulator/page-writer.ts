import { entityInfo, type EntityName } from '../graph/schema.js';
import type { LinkSet } from './link-set.js';

/**
 * The links of one object in one delta page, kept as parallel lists (a page may hold thousands).
 * `removed` marks links that went away; `index` finds a target again when the change log mentions it
 * twice in one page (the last word wins).
 */
export class LinkList {
  readonly ids: string[] = [];
  readonly kinds: EntityName[] = [];
  removed?: boolean[];
  private index?: Map<string, number>;

  push(id: string, kind: EntityName): void {
    this.ids.push(id);
    this.kinds.push(kind);
    this.removed?.push(false);
  }

  /** Adds or replaces the entry for `id` (log replay). */
  set(id: string, kind: EntityName, removed: boolean): void {
    if (!this.index) {
      this.index = new Map();
      this.ids.forEach((x, i) => this.index!.set(x, i));
    }
    this.removed ??= this.ids.map(() => false);
    const at = this.index.get(id);
    if (at !== undefined) {
      this.kinds[at] = kind;
      this.removed[at] = removed;
      return;
    }
    this.index.set(id, this.ids.length);
    this.ids.push(id);
    this.kinds.push(kind);
    this.removed.push(removed);
  }

  get size(): number {
    return this.ids.length;
  }
}

/**
 * Current links of one object in one page of an initial round: offsets into its link set, read when the
 * page is written (no id strings are touched on the way).
 */
export class LinkRun {
  readonly offsets: number[] = [];
  constructor(readonly set: LinkSet<EntityName>) {}

  get size(): number {
    return this.offsets.length;
  }
}

const PREFIX = new Map<EntityName, string>();
function prefixOf(entity: EntityName): string {
  let prefix = PREFIX.get(entity);
  if (!prefix) PREFIX.set(entity, (prefix = `{"@odata.type":"${entityInfo(entity).odataType}","id":"`));
  return prefix;
}
const PREFIX_BYTES = new Map<EntityName, Buffer>();
function prefixBytes(entity: EntityName): Buffer {
  let bytes = PREFIX_BYTES.get(entity);
  if (!bytes) PREFIX_BYTES.set(entity, (bytes = Buffer.from(prefixOf(entity), 'latin1')));
  return bytes;
}
const REMOVED = '","@removed":{"reason":"deleted"}}';
const EMPTY = Buffer.alloc(0);
const LONGEST_PREFIX = 64;

/**
 * Writes a JSON page straight into a Buffer. Delta pages of group links run to hundreds of kilobytes:
 * building them as strings and encoding them afterwards costs more than the rest of the request.
 */
/**
 * Page buffers are reused once their response has been sent: hundreds of fresh 200 KB buffers a second
 * are external memory V8 answers with full collections of a gigabyte heap.
 */
const pool: Buffer[] = [];
const POOL_SIZE = 8;
const MIN_BUFFER = 64 * 1024;

function acquire(size: number): Buffer {
  for (let i = 0; i < pool.length; i++) if (pool[i]!.length >= size) return pool.splice(i, 1)[0]!;
  return Buffer.allocUnsafe(Math.max(MIN_BUFFER, size));
}

function release(buf: Buffer): void {
  if (pool.length < POOL_SIZE) pool.push(buf);
}

export class PageWriter {
  private buf: Buffer;
  private at = 0;

  constructor(sizeHint: number) {
    this.buf = acquire(sizeHint);
  }

  /** Text that may hold any character (property values). */
  text(s: string): void {
    this.reserve(s.length * 3);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /** Text known to be ASCII (our own punctuation and names, GUIDs). */
  ascii(s: string): void {
    this.reserve(s.length);
    this.at += this.buf.write(s, this.at, 'latin1');
  }

  /**
   * `"members@delta":[{"@odata.type":"#microsoft.graph.user","id":"..."},...]`, with
   * `"@removed":{"reason":"deleted"}` on links that went away: Graph says "deleted" whether the link
   * or the linked object went (delta-query-groups.md).
   */
  links(nav: string, list: LinkList | LinkRun): void {
    if (list instanceof LinkRun) {
      this.run(nav, list);
      return;
    }
    this.ascii(`"${nav}@delta":[`);
    this.reserve(list.size * (LONGEST_PREFIX + 40 + REMOVED.length));
    const { ids, kinds, removed } = list;
    const buf = this.buf;
    let at = this.at;
    for (let i = 0; i < ids.length; i++) {
      if (i > 0) buf[at++] = 0x2c; // ,
      at += buf.write(prefixOf(kinds[i]!), at, 'latin1');
      at += buf.write(ids[i]!, at, 'latin1');
      if (removed?.[i]) at += buf.write(REMOVED, at, 'latin1');
      else {
        buf[at++] = 0x22; // "
        buf[at++] = 0x7d; // }
      }
    }
    buf[at++] = 0x5d; // ]
    this.at = at;
  }

  private run(nav: string, run: LinkRun): void {
    this.ascii(`"${nav}@delta":[`);
    this.reserve(run.size * (LONGEST_PREFIX + 40));
    const { set, offsets } = run;
    const buf = this.buf;
    let at = this.at;
    let last: EntityName | undefined;
    let prefix: Buffer = EMPTY;
    for (let i = 0; i < offsets.length; i++) {
      const m = offsets[i]!;
      if (i > 0) buf[at++] = 0x2c; // ,
      const kind = set.kindAt(m) ?? 'user';
      if (kind !== last) {
        prefix = prefixBytes(kind);
        last = kind;
      }
      buf.set(prefix, at);
      at += prefix.length;
      at += set.writeId(m, buf, at);
      buf[at++] = 0x22; // "
      buf[at++] = 0x7d; // }
    }
    buf[at++] = 0x5d; // ]
    this.at = at;
  }

  /**
   * The bytes written (a view on the writer's buffer), and a function that hands the buffer back for
   * reuse: call it once the bytes are sent, and not before.
   */
  done(): { bytes: Buffer; release: () => void } {
    const buf = this.buf;
    return { bytes: buf.subarray(0, this.at), release: () => release(buf) };
  }

  private reserve(n: number): void {
    if (this.at + n <= this.buf.length) return;
    const bigger = acquire(Math.max(this.buf.length * 2, this.at + n));
    this.buf.copy(bigger, 0, 0, this.at);
    release(this.buf);
    this.buf = bigger;
  }
}
