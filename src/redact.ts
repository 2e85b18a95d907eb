/**
 * The one redaction mechanism: every secret the tool learns (client secrets, certificate passwords,
 * vault-supplied values, generated passwords, access tokens) is registered here, and every line bound
 * for a log, an error, a trace, a dry-run plan or a result file goes through `redact()`.
 */
const MIN_LENGTH = 6;
const MASK = '***';
/** Registered secrets by their first MIN_LENGTH characters: a fulfill run registers one per created user. */
const byPrefix = new Map<string, Set<string>>();

/** Registers a secret value; short values are ignored (they would mask ordinary words). */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value !== 'string' || value.length < MIN_LENGTH) return;
  const prefix = value.slice(0, MIN_LENGTH);
  const set = byPrefix.get(prefix) ?? new Set<string>();
  set.add(value);
  byPrefix.set(prefix, set);
}

/** Forgets a secret (when it is no longer held). */
export function forgetSecret(value: string): void {
  const prefix = value.slice(0, MIN_LENGTH);
  const set = byPrefix.get(prefix);
  if (!set?.delete(value)) return;
  if (set.size === 0) byPrefix.delete(prefix);
}

/**
 * Replaces every registered secret in `text` by the mask, longest first at each position. One pass
 * over the text whatever the number of secrets (a prefix lookup per character).
 */
function maskRegistered(text: string): string {
  if (byPrefix.size === 0 || text.length < MIN_LENGTH) return text;
  let out = '';
  let last = 0;
  let i = 0;
  while (i <= text.length - MIN_LENGTH) {
    const candidates = byPrefix.get(text.slice(i, i + MIN_LENGTH));
    let match = 0;
    if (candidates)
      for (const s of candidates) if (s.length > match && text.startsWith(s, i)) match = s.length;
    if (match) {
      out += text.slice(last, i) + MASK;
      i += match;
      last = i;
    } else i++;
  }
  return last === 0 ? text : out + text.slice(last);
}

/** Masks every registered secret, every bearer token and every JWT-shaped string in `text`. */
export function redact(text: string): string {
  return maskRegistered(text)
    .replace(/(bearer\s+)[A-Za-z0-9\-._~+/]+=*/gi, `$1${MASK}`)
    .replace(/eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g, MASK)
    .replace(
      /((?:client_secret|client_assertion|password|ApplicationKey|CertificatePassword)["']?\s*[:=]\s*["']?)[^"'&\s,}]+/gi,
      `$1${MASK}`,
    );
}

/** Masks a secret for display: its length class only. */
export function mask(value: string | undefined): string {
  return value ? MASK : '';
}

/**
 * A quotation of text that may be a secret or binary (a line that did not parse): at most `max`
 * characters, control characters and undecodable bytes shown as `?`, and the length when cut.
 * @example excerpt('VecJZrxzSnP-o1wu') // "'VecJZrxz…' (16 characters)"
 */
export function excerpt(text: string, max = 8, quote = "'"): string {
  // eslint-disable-next-line no-control-regex
  const chars = [...text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, '?')];
  return chars.length <= max
    ? `${quote}${chars.join('')}${quote}`
    : `${quote}${chars.slice(0, max).join('')}…${quote} (${chars.length} characters)`;
}
