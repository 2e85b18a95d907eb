import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Emulator } from '../../../src/emulator/server.js';
import { withDir } from '../common.js';

/**
 * Runs one of the SDK programs beside this file in a child process against `emu`: Node trusts the
 * emulator's CA through NODE_EXTRA_CA_CERTS, as any Node program pointed at it would, and the program
 * gets the emulator's coordinates and `extra` ids as ENTRA_CONFORMANCE. Returns its JSON output.
 */
export async function runSdkProgram(
  emu: Emulator,
  program: string,
  extra: Record<string, string>,
): Promise<Record<string, any>> {
  let output: Record<string, any> = {};
  await withDir(async (dir) => {
    const ca = join(dir, 'ca.pem');
    await writeFile(ca, emu.caPem);
    const config = {
      url: emu.url,
      graphUrl: emu.graphUrl,
      tenantId: emu.tenantId,
      clientId: emu.clientId,
      clientSecret: emu.clientSecret,
      ...extra,
    };
    const script = fileURLToPath(new URL(`./${program}.ts`, import.meta.url));
    const stdout = await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--import', 'tsx', script],
        {
          env: { ...process.env, NODE_EXTRA_CA_CERTS: ca, ENTRA_CONFORMANCE: JSON.stringify(config) },
          maxBuffer: 16 * 1024 * 1024,
        },
        (error, out, err) =>
          error ? reject(new Error(`${program} failed: ${error.message}\n${err}`)) : resolve(out),
      );
    });
    output = JSON.parse(stdout) as Record<string, any>;
  });
  return output;
}
