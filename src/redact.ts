/**
 * The one redaction mechanism: every secret the tool learns (client secrets, certificate passwords,
 * generated passwords, access tokens) is registered here, and every line bound for a log, an error,
 * a trace, a dry-run plan or a result file goes through `redact()`.
 */
const secrets = new Set<string>();
const MASK = '***';

/** Registers a secret value; short values are ignored (they would mask ordinary words). */
export function registerSecret(value: string | undefined | null): void {
  if (typeof value === 'string' && value.length >= 6) secrets.add(value);
}

/** Forgets a secret (when it is no longer held). */
export function forgetSecret(value: string): void {
  secrets.delete(value);
}

/** Masks every registered secret, every bearer token and every JWT-shaped string in `text`. */
export function redact(text: string): string {
  let out = text;
  for (const s of secrets) if (out.includes(s)) out = out.split(s).join(MASK);
  return out
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
