/**
 * msal-node's log lines, as `--verbose` shows them: `[date] : [correlation id] : @azure/msal-node@7.2.3 :
 * Warning - text` becomes `msal: warning: text`, and the warnings that every app-only sign-in gets
 * are dropped.
 */

/** Said of every client-credentials token: client_info only comes with a user's sign-in. */
const EXPECTED = [/^No client info in response$/];

/**
 * The line `--verbose` prints for one msal log message, or undefined for one that says nothing
 * about this run.
 * @example msalLogLine('[Fri, 04 Dec 2026 21:24:07 GMT] : [1dc6…] : @azure/msal-node@7.2.3 : Warning - x') // 'msal: warning: x'
 */
export function msalLogLine(message: string): string | undefined {
  const m = /^(?:\[[^\]]*\] : )*(?:@azure\/msal-[\w-]+@[\w.-]+ : )?(\w+) - (.*)$/s.exec(message);
  if (!m) return `msal: ${message}`;
  const [, level, text] = m;
  if (EXPECTED.some((e) => e.test(text!))) return undefined;
  return `msal: ${level!.toLowerCase()}: ${text}`;
}
