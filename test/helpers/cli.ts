import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const TSX = import.meta.resolve('tsx');
const BIN = fileURLToPath(new URL('../../bin/entra.ts', import.meta.url));

export interface CliExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  cwd?: string;
  /** Added to the environment (the caller's NODE_EXTRA_CA_CERTS is never passed on). */
  env?: Record<string, string>;
  /** Fed to stdin; stdin is closed (not a TTY) when absent. */
  stdin?: string;
  /** Close our end of stdout and stderr at once, like `entra ... 2>&1 | true`: every write meets EPIPE. */
  closeOutput?: boolean;
}

/** `entra <args>` in a child process (`node --import tsx bin/entra.ts`): its exit, stdout and stderr. */
export function runEntra(args: string[], options: CliOptions = {}): Promise<CliExit> {
  const child = spawn(process.execPath, ['--import', TSX, BIN, ...args], {
    cwd: options.cwd ?? process.cwd(),
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_EXTRA_CA_CERTS')),
      ...options.env,
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  child.stdin.end(options.stdin ?? '');
  let stdout = '';
  let stderr = '';
  if (options.closeOutput) {
    child.stdout.destroy();
    child.stderr.destroy();
  } else {
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  }
  return new Promise<CliExit>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}
