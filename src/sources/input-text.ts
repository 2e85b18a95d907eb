import { isUtf8 } from 'node:buffer';
import { Transform, type TransformCallback } from 'node:stream';
import iconv from 'iconv-lite';

/**
 * The bytes of an input file → UTF-8 text, checked, as a stream (DESIGN §4: command CSVs are UTF-8).
 * A byte order mark says UTF-8, UTF-16 LE or UTF-16 BE; without one the file must be UTF-8, unless an
 * encoding is named (`--encoding`, any of iconv-lite's). Bytes that are not text in that encoding are never
 * replaced silently: the first one ends the output right after a U+FFFD put in its place, and
 * {@link InputText.invalid} says where it was, so that the reader names its line and column (and field).
 */

/** The first bytes that are not text in the input's encoding. */
export interface InvalidBytes {
  /** Byte offset in the output just after the U+FFFD that stands for them. */
  offset: number;
  /** 1-based physical line and character column (code points) in the text. */
  line: number;
  column: number;
  /** What is wrong, and what to do about it. */
  detail: string;
}

const UTF8_BOM = Buffer.from([0xef, 0xbb, 0xbf]);
const REPLACEMENT = Buffer.from([0xef, 0xbf, 0xbd]);

/** iconv-lite's canonical name of `name`, or undefined when it knows no such encoding. */
export function canonicalEncoding(name: string): string | undefined {
  const key = name.toLowerCase().replace(/[^0-9a-z]/g, '');
  if (!iconv.encodingExists(name)) return undefined;
  if (key === 'utf8') return 'utf-8';
  if (key === 'utf16le' || key === 'ucs2' || key === 'utf16') return key === 'utf16' ? 'utf-16' : 'utf-16le';
  if (key === 'utf16be') return 'utf-16be';
  return name.toLowerCase();
}

const hex = (bytes: Uint8Array) =>
  [...bytes].map((b) => `0x${b.toString(16).toUpperCase().padStart(2, '0')}`).join(' ');

/** Where the first invalid UTF-8 sequence of `buf` starts, and how many bytes it has (1-3). */
export function firstInvalidUtf8(buf: Uint8Array): { at: number; length: number } | undefined {
  let i = 0;
  while (i < buf.length) {
    const b = buf[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) need = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      need = 2;
      if (b === 0xe0) lo = 0xa0;
      if (b === 0xed) hi = 0x9f;
    } else if (b >= 0xf0 && b <= 0xf4) {
      need = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f;
    } else return { at: i, length: 1 };
    for (let k = 1; k <= need; k++) {
      const c = buf[i + k];
      if (c === undefined) return { at: i, length: k };
      if (c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return { at: i, length: k };
    }
    i += need + 1;
  }
  return undefined;
}

/** Bytes at the end of `buf` that begin a UTF-8 sequence the next chunk completes. */
function incompleteTail(buf: Buffer): number {
  for (let back = 1; back <= Math.min(3, buf.length); back++) {
    const b = buf[buf.length - back]!;
    if ((b & 0xc0) === 0x80) continue;
    const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
    return need > back ? back : 0;
  }
  return 0;
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

type Mode =
  | { kind: 'sniff' }
  | { kind: 'utf-8' }
  | { kind: 'utf-16'; le: boolean }
  | { kind: 'iconv'; name: string; decoder: ReturnType<typeof iconv.getDecoder> }
  | { kind: 'done' };

/** Bytes → checked UTF-8 bytes; see the module comment. */
export class InputText extends Transform {
  /** The first bytes that are not text, once met. */
  invalid?: InvalidBytes;
  /** The encoding read: from the byte order mark, `--encoding`, or utf-8. */
  encoding = 'utf-8';
  private mode: Mode = { kind: 'sniff' };
  private head = Buffer.alloc(0);
  private carry = Buffer.alloc(0);
  private out = 0;
  private line = 1;
  private column = 0;
  private lastCr = false;

  constructor(private readonly named?: string) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    try {
      if (this.mode.kind === 'sniff') {
        this.head = Buffer.concat([this.head, chunk]);
        if (this.head.length < 3) return done();
        chunk = this.start(this.head);
      }
      this.decode(chunk, false);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      if (this.mode.kind === 'sniff') this.decode(this.start(this.head), false);
      this.decode(Buffer.alloc(0), true);
      done();
    } catch (error) {
      done(error as Error);
    }
  }

  /** Picks the mode from the first bytes; returns them without their byte order mark. */
  private start(head: Buffer): Buffer {
    const bom = head.subarray(0, 3).equals(UTF8_BOM)
      ? 'utf-8'
      : head[0] === 0xff && head[1] === 0xfe
        ? 'utf-16le'
        : head[0] === 0xfe && head[1] === 0xff
          ? 'utf-16be'
          : undefined;
    const named = this.named === undefined ? undefined : canonicalEncoding(this.named);
    if (this.named !== undefined && !named) throw new Error(`unknown encoding ${JSON.stringify(this.named)}`);
    const rest = head.subarray(bom === 'utf-8' ? 3 : bom ? 2 : 0);
    if (bom && named && named !== bom && !(named === 'utf-16' && bom !== 'utf-8')) {
      this.mode = { kind: 'done' };
      this.fail(
        `the file begins with a ${bom.toUpperCase()} byte order mark, but --encoding says ${this.named}`,
      );
      return Buffer.alloc(0);
    }
    const encoding = bom ?? named ?? 'utf-8';
    this.encoding = encoding;
    if (encoding === 'utf-8') this.mode = { kind: 'utf-8' };
    else if (encoding === 'utf-16le' || encoding === 'utf-16') this.mode = { kind: 'utf-16', le: true };
    else if (encoding === 'utf-16be') this.mode = { kind: 'utf-16', le: false };
    else
      this.mode = {
        kind: 'iconv',
        name: this.named!,
        decoder: iconv.getDecoder(encoding, { stripBOM: false }),
      };
    return rest;
  }

  private decode(chunk: Buffer, end: boolean): void {
    const mode = this.mode;
    if (mode.kind === 'utf-8') return this.utf8(chunk, end);
    if (mode.kind === 'utf-16') return this.utf16(chunk, end, mode.le);
    if (mode.kind === 'iconv') {
      const text = end ? (mode.decoder.end() ?? '') : mode.decoder.write(chunk);
      const at = text.indexOf('\uFFFD');
      if (at < 0) return this.send(Buffer.from(text, 'utf8'));
      this.send(Buffer.from(text.slice(0, at), 'utf8'));
      this.fail(`bytes that are not ${mode.name} text`);
    }
  }

  private utf8(chunk: Buffer, end: boolean): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    const keep = end ? 0 : incompleteTail(buf);
    const body = keep ? buf.subarray(0, buf.length - keep) : buf;
    this.carry = keep ? Buffer.from(buf.subarray(buf.length - keep)) : Buffer.alloc(0);
    if (isUtf8(body)) return this.send(body);
    const bad = firstInvalidUtf8(body)!;
    this.send(body.subarray(0, bad.at));
    const bytes = hex(body.subarray(bad.at, bad.at + bad.length));
    this.fail(
      `bytes that are not UTF-8 (${bytes})${this.named ? '' : ': name the encoding, e.g. --encoding windows-1252 (Excel on Windows)'}`,
    );
  }

  private utf16(chunk: Buffer, end: boolean, le: boolean): void {
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let keep = buf.length % 2;
    if (!end && buf.length - keep >= 2) {
      const last = le ? buf.readUInt16LE(buf.length - keep - 2) : buf.readUInt16BE(buf.length - keep - 2);
      if (last >= 0xd800 && last <= 0xdbff) keep += 2;
    }
    this.carry = keep ? Buffer.from(buf.subarray(buf.length - keep)) : Buffer.alloc(0);
    buf = buf.subarray(0, buf.length - keep);
    if (!le) buf = Buffer.from(buf).swap16();
    const text = buf.toString('utf16le');
    const lone = LONE_SURROGATE.exec(text);
    if (lone) {
      this.send(Buffer.from(text.slice(0, lone.index), 'utf8'));
      const unit = lone[0].charCodeAt(0).toString(16).toUpperCase();
      return this.fail(`a lone UTF-16 surrogate (0x${unit}): the file is not UTF-16 text`);
    }
    this.send(Buffer.from(text, 'utf8'));
    if (end && this.carry.length) {
      this.carry = Buffer.alloc(0);
      this.fail('the file ends in the middle of a UTF-16 character');
    }
  }

  /** Passes `bytes` on, keeping count of the line and column they end at. */
  private send(bytes: Buffer): void {
    if (this.mode.kind === 'done' || bytes.length === 0) return;
    let { line, column, lastCr } = this;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i]!;
      if (b === 10) {
        if (!lastCr) line++;
        column = 0;
        lastCr = false;
      } else if (b === 13) {
        line++;
        column = 0;
        lastCr = true;
      } else {
        lastCr = false;
        if ((b & 0xc0) !== 0x80) column++;
      }
    }
    Object.assign(this, { line, column, lastCr });
    this.out += bytes.length;
    this.push(bytes);
  }

  /** Ends the output with a U+FFFD where the bad bytes were; the rest of the input is dropped. */
  private fail(detail: string): void {
    if (this.mode.kind !== 'done') {
      this.out += REPLACEMENT.length;
      this.push(REPLACEMENT);
    }
    this.invalid ??= { offset: this.out, line: this.line, column: this.column + 1, detail };
    this.mode = { kind: 'done' };
  }
}
