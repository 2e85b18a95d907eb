import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * Opaque state tokens (`$skiptoken`, `$deltatoken`). Like Graph's, they carry the round's query, so
 * query options are given only on the first request. They are signed: a token edited by a client, or
 * made by another emulator instance, is rejected rather than misread.
 */
export class TokenCodec {
  constructor(private readonly key: Buffer) {}

  encode(state: object): string {
    const body = Buffer.from(JSON.stringify(state)).toString('base64url');
    return `${body}.${this.sign(body)}`;
  }

  /** The state, or undefined for a token that is malformed, edited or not ours. */
  decode<T>(token: string): T | undefined {
    const dot = token.lastIndexOf('.');
    if (dot <= 0) return undefined;
    const body = token.slice(0, dot);
    const mac = Buffer.from(token.slice(dot + 1));
    const expected = Buffer.from(this.sign(body));
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined;
    try {
      return JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as T;
    } catch {
      return undefined;
    }
  }

  private sign(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url').slice(0, 22);
  }
}
