import { X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';

/**
 * `--ca FILE`, the one way every command reads it: the PEM text of a CA to trust besides the system
 * roots (e.g. `entra emulate --ca-out`), checked to be a certificate before anything runs (exit 2).
 */
export async function readCaFile(file: string): Promise<string> {
  let pem: string;
  try {
    pem = await readFile(resolve(file), 'utf8');
  } catch (e) {
    throw new UsageError(
      'ERR_USAGE',
      `--ca: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`,
    );
  }
  try {
    new X509Certificate(pem);
  } catch {
    throw new UsageError('ERR_USAGE', `--ca: ${file} is not a PEM certificate`);
  }
  return pem;
}
