import { open, stat, type FileHandle } from 'node:fs/promises';
import { stringify } from 'csv-stringify/sync';
import { UsageError } from '../errors.js';
import { registerSecret } from '../redact.js';
import type { GeneratedPassword } from '../streams/to-request.js';

/**
 * A protected sink for the initial passwords of created users. A password is recorded `pending`
 * (and synced to disk) before its create is sent, then `created` or `discarded`: a crash between
 * Graph creating the user and us hearing about it never loses the password of a user that exists.
 */
export interface PasswordSink {
  /** Durably records passwords about to be sent. */
  prepare(entries: GeneratedPassword[]): Promise<void>;
  confirm(entry: GeneratedPassword): Promise<void>;
  discard(entry: GeneratedPassword): Promise<void>;
  close(): Promise<void>;
}

const HEADER = 'userPrincipalName,password,state,file,line\n';

/**
 * Opens (or creates, mode 0600) a password CSV file `userPrincipalName,password,state,file,line`.
 * An existing file readable by other users is refused: the passwords would not be protected.
 */
export async function openPasswordFile(path: string): Promise<PasswordSink> {
  let exists = false;
  try {
    const s = await stat(path);
    exists = true;
    if ((s.mode & 0o077) !== 0)
      throw new UsageError(
        'ERR_PASSWORD_FILE',
        `password file ${path} is readable by other users (mode ${(s.mode & 0o777).toString(8)}); run chmod 600 ${path}, or name a new file`,
      );
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  let handle: FileHandle;
  try {
    handle = await open(path, 'a', 0o600);
  } catch (e) {
    throw new UsageError(
      'ERR_PASSWORD_FILE',
      `cannot open password file ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
      { cause: e },
    );
  }
  if (!exists || (await handle.stat()).size === 0) await handle.appendFile(HEADER);
  const write = async (entries: GeneratedPassword[], state: string) => {
    if (!entries.length) return;
    const text = stringify(
      entries.map((e) => [e.userPrincipalName, e.password, state, e.file, String(e.line)]),
      { record_delimiter: '\n' },
    );
    await handle.appendFile(text);
    await handle.datasync();
  };
  return {
    prepare: (entries) => {
      for (const e of entries) registerSecret(e.password);
      return write(entries, 'pending');
    },
    confirm: (e) => write([e], 'created'),
    discard: (e) => write([e], 'discarded'),
    close: () => handle.close(),
  };
}
