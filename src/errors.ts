/**
 * Error classes with a stable `code`, following got's `ERR_*` style. Tests and the exit-code mapping
 * switch on `code`, never on the message.
 */

/** Exit codes shared by every command (DESIGN.md §4). */
export const EXIT = {
  ok: 0,
  failure: 1,
  usage: 2,
  rowsFailed: 3,
  interrupted: 130,
} as const;

export interface ToolErrorOptions {
  cause?: unknown;
  /** Extra lines printed under the one-line message: request, status, Graph error code. */
  context?: string[];
  /** Process exit code; defaults by code family. */
  exitCode?: number;
}

/** Base class of every error a user can cause or meet. */
export class ToolError extends Error {
  readonly code: string;
  readonly context: string[];
  readonly exitCode: number;

  constructor(code: string, message: string, options: ToolErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ToolError';
    this.code = code;
    this.context = options.context ?? [];
    this.exitCode = options.exitCode ?? EXIT.failure;
  }
}

/** A mistake in the command line, settings or mapping: exit code 2, nothing written. */
export class UsageError extends ToolError {
  constructor(code: string, message: string, options: ToolErrorOptions = {}) {
    super(code, message, { ...options, exitCode: EXIT.usage });
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
