import type { EmuRequest, EmuResponse } from './http-types.js';

/** Graph's timestamp format in error envelopes: ISO 8601 without fraction or zone. */
export function graphDate(ms: number): string {
  return new Date(ms).toISOString().slice(0, 19);
}

/**
 * A response in Graph's error envelope:
 * `{ error: { code, message, innerError: { date, request-id, client-request-id } } }`.
 */
export function graphError(
  req: Pick<EmuRequest, 'requestId' | 'headers'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
  details?: { target: string; code: string }[],
): EmuResponse {
  const clientRequestId = req.headers['client-request-id'];
  return {
    status,
    headers,
    body: {
      error: {
        code,
        message,
        innerError: {
          date: graphDate(Date.now()),
          'request-id': req.requestId,
          'client-request-id': typeof clientRequestId === 'string' ? clientRequestId : req.requestId,
        },
        ...(details ? { details } : {}),
      },
    },
  };
}

/** A value another object already holds: Graph names the property in `details` (ObjectConflict). */
export function conflictMessage(property: string): string {
  return `Another object with the same value for property ${property} already exists.`;
}

/** The usual answers, with the codes the directory service uses. */
export const errors = {
  badRequest: (req: EmuRequest, message: string) => graphError(req, 400, 'Request_BadRequest', message),
  /**
   * A unique property already taken: 400 with `details: [{target, code: "ObjectConflict"}]`, as a
   * Graph docs maintainer showed it (microsoftgraph/microsoft-graph-docs#1508).
   */
  conflict: (req: EmuRequest, property: string) =>
    graphError(req, 400, 'Request_BadRequest', conflictMessage(property), {}, [
      { target: property, code: 'ObjectConflict' },
    ]),
  unsupportedQuery: (req: EmuRequest, message = 'Unsupported Query.') =>
    graphError(req, 400, 'Request_UnsupportedQuery', message),
  notFound: (req: EmuRequest, id: string) =>
    graphError(
      req,
      404,
      'Request_ResourceNotFound',
      `Resource '${id}' does not exist or one of its queried reference-property objects are not present.`,
    ),
  forbidden: (req: EmuRequest) =>
    graphError(req, 403, 'Authorization_RequestDenied', 'Insufficient privileges to complete the operation.'),
  /** An unknown path segment: the one named, else the last of the path. */
  badRoute: (req: EmuRequest, segment?: string) =>
    graphError(
      req,
      400,
      'BadRequest',
      `Resource not found for the segment '${segment ?? req.url.pathname.split('/').filter(Boolean).pop() ?? ''}'.`,
    ),
  methodNotAllowed: (req: EmuRequest) =>
    graphError(
      req,
      405,
      'Request_BadRequest',
      'Specified HTTP method is not allowed for the request target.',
    ),
};

/** The JSON object body of a write, or Graph's answer to an unreadable one. */
export function parseBody(req: EmuRequest): { body: Record<string, unknown> } | { response: EmuResponse } {
  try {
    const body: unknown = JSON.parse(req.body.toString('utf8') || 'null');
    if (body && typeof body === 'object' && !Array.isArray(body))
      return { body: body as Record<string, unknown> };
  } catch {
    // fall through
  }
  return {
    response: graphError(
      req,
      400,
      'BadRequest',
      'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.',
    ),
  };
}
