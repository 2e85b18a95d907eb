/**
 * Error classes with a stable `code`, following got's `ERR_*` style. Tests and the exit-code mapping
 * switch on `code`, never on the message; each code has exactly one exit code ({@link exitCodeOf}).
 */

/** Exit codes shared by every command (DESIGN.md §4). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  rowsFailed: 3,
  threshold: 4,
  interrupted: 130,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * Every code the connector gives an error, with its exit code. Usage codes (2) are mistakes in the
 * command line, settings, mapping or input files: nothing was written. Row codes (3) only ever appear
 * in a fulfill result row, whose run then exits 3.
 */
export const ERROR_CODES = {
  // 2: the user's command line, settings, mapping, files
  ERR_USAGE: EXIT.usage,
  ERR_INVALID_OPTION: EXIT.usage,
  ERR_SETTINGS: EXIT.usage,
  ERR_MAPPING: EXIT.usage,
  ERR_CSV: EXIT.usage,
  ERR_CERTIFICATE: EXIT.usage,
  ERR_DECRYPT: EXIT.usage,
  ERR_JOURNAL: EXIT.usage,
  ERR_PASSWORD_FILE: EXIT.usage,
  ERR_TLS: EXIT.usage,
  // 1: the run failed
  ERR_AUTH: EXIT.failure,
  ERR_KEY_VAULT: EXIT.failure,
  ERR_CYBERARK: EXIT.failure,
  ERR_PASSWORD_MAIL: EXIT.failure,
  ERR_ATOMIC_FILE: EXIT.failure,
  ERR_LOCKED: EXIT.failure,
  ERR_CSV_TABLE: EXIT.failure,
  ERR_GRAPH_HTTP: EXIT.failure,
  ERR_GRAPH_NETWORK: EXIT.failure,
  ERR_GRAPH_RESPONSE: EXIT.failure,
  ERR_GRAPH_PAYLOAD: EXIT.failure,
  ERR_GRAPH_PAGINATION_LOOP: EXIT.failure,
  ERR_GRAPH_SYNC_RESET: EXIT.failure,
  ERR_RESUME_EXPIRED: EXIT.failure,
  ERR_GRAPH_CLOSED: EXIT.failure,
  ERR_GRAPH_LOOKUP: EXIT.failure,
  ERR_UNMAPPED_ENTITY: EXIT.failure,
  ERR_ABANDONED: EXIT.failure,
  ERR_INTERNAL: EXIT.failure,
  ERR_SNAPSHOT: EXIT.failure,
  ERR_TEMP_FILE: EXIT.failure,
  // 3: a fulfill row's own failure
  ERR_ROW_INVALID: EXIT.rowsFailed,
  ERR_RETRIES_EXHAUSTED: EXIT.rowsFailed,
  ERR_REFERENCE: EXIT.rowsFailed,
  // 4: a safety threshold stopped the run before anything was written or sent
  ERR_THRESHOLD: EXIT.threshold,
  // 130
  ERR_INTERRUPTED: EXIT.interrupted,
} as const satisfies Record<`ERR_${string}`, ExitCode>;

/** The closed set of error codes. */
export type ErrorCode = keyof typeof ERROR_CODES;

/** The codes that mean a usage error (exit 2), the only ones a {@link UsageError} takes. */
export type UsageCode = { [C in ErrorCode]: (typeof ERROR_CODES)[C] extends 2 ? C : never }[ErrorCode];

/** The one exit code of an error code. */
export function exitCodeOf(code: ErrorCode): ExitCode {
  return ERROR_CODES[code];
}

/** True for a string that is one of our codes (a Graph error code is not). */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && Object.hasOwn(ERROR_CODES, code);
}

export interface ToolErrorOptions {
  cause?: unknown;
  /** Extra lines printed under the one-line message: request, status, Graph error code. */
  context?: string[];
}

/** Base class of every error a user can cause or meet; its exit code follows from its code. */
export class ToolError extends Error {
  readonly code: ErrorCode;
  readonly context: string[];

  constructor(code: ErrorCode, message: string, options: ToolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolError';
    this.code = code;
    this.context = options.context ?? [];
  }

  get exitCode(): ExitCode {
    return exitCodeOf(this.code);
  }
}

/** A mistake in the command line, settings, mapping or input: exit code 2, nothing written. */
export class UsageError extends ToolError {
  declare readonly code: UsageCode;
  constructor(code: UsageCode, message: string, options: ToolErrorOptions = {}) {
    super(code, message, options);
    this.name = 'UsageError';
  }
}

/** Graph answered with an error status, after retries. */
export class GraphHttpError extends ToolError {
  readonly status: number;
  readonly graphCode: string | undefined;
  readonly requestId: string | undefined;

  constructor(
    message: string,
    details: { status: number; graphCode?: string; requestId?: string; method?: string; url?: string },
    options: ToolErrorOptions = {},
  ) {
    const context = [
      details.method && details.url ? `request: ${details.method} ${details.url}` : '',
      `status: ${details.status}${details.graphCode ? ` ${details.graphCode}` : ''}`,
      details.requestId ? `request-id: ${details.requestId}` : '',
      ...(options.context ?? []),
    ].filter(Boolean);
    super('ERR_GRAPH_HTTP', message, { ...options, context });
    this.name = 'GraphHttpError';
    this.status = details.status;
    this.graphCode = details.graphCode;
    this.requestId = details.requestId;
  }
}

/** Renders an error as the one line the CLI prints: `entra: <CODE>: <message>`. */
export function formatError(error: unknown, tool = 'entra'): string[] {
  if (error instanceof ToolError)
    return [`${tool}: ${error.code}: ${error.message}`, ...error.context.map((l) => `  ${l}`)];
  const message = error instanceof Error ? error.message : String(error);
  return [`${tool}: ERR_INTERNAL: ${message}`];
}
