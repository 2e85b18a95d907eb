/** What Graph's (and Azure's) JSON error envelope says: `{"error": {"code", "message", "innererror"}}`. */
export interface GraphErrorBody {
  code?: string;
  message?: string;
  /** `innererror.code`, where Azure services put the precise reason (Key Vault's `SecretDisabled`). */
  innerCode?: string;
}

/**
 * Reads Graph's error envelope from a response body, whatever the body is: absent or mistyped fields
 * are left out. The one parser of error bodies (client, delta source, `$batch` items, Key Vault).
 * @example graphErrorOf({ error: { code: 'Request_ResourceNotFound', message: 'gone' } })
 *   // → { code: 'Request_ResourceNotFound', message: 'gone' }
 */
export function graphErrorOf(body: unknown): GraphErrorBody {
  const error = (body as { error?: { code?: unknown; message?: unknown; innererror?: { code?: unknown } } })
    ?.error;
  if (typeof error !== 'object' || error === null) return {};
  const inner = error.innererror?.code;
  return {
    ...(typeof error.code === 'string' && error.code ? { code: error.code } : {}),
    ...(typeof error.message === 'string' && error.message ? { message: error.message } : {}),
    ...(typeof inner === 'string' && inner ? { innerCode: inner } : {}),
  };
}
