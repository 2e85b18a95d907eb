import type { IncomingHttpHeaders } from 'node:http';

/** A request as the emulator's handlers see it: parsed URL, lower-cased headers, whole body. */
export interface EmuRequest {
  method: string;
  url: URL;
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** The `request-id` the emulator gives this request (echoed in headers and error envelopes). */
  requestId: string;
  /** The TLS client certificate, when the client presented one (mutual TLS endpoints). */
  clientCertificate?: { fingerprint256: string; subject: string; raw: Buffer };
}

/**
 * A JSON body already serialized, as UTF-8 bytes (hot paths write their pages directly). Anything that
 * serializes a response again, such as a `$batch` envelope, gets the value back through `toJSON`.
 */
export class JsonText {
  /** `release`, when given, is called once the bytes have been sent (their buffer is reused). */
  constructor(
    readonly bytes: Buffer,
    readonly release?: () => void,
  ) {}
  toJSON(): unknown {
    return JSON.parse(this.bytes.toString('utf8'));
  }
}

/** A handler's answer. A non-Buffer, non-string body is sent as JSON (a `JsonText` as it is). */
export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

/** A handler answers the requests it owns and returns undefined for the others. */
export type EmuHandler = (req: EmuRequest) => Promise<EmuResponse | undefined> | EmuResponse | undefined;
