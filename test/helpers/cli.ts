import { spawn } from 'node:child_process';
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildSync } from 'esbuild';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let bundle: string | undefined;

/**
 * The arguments that make `node` run `entra` from the sources: bin/entra.ts and src/ bundled once per
 * test process by esbuild (what tsx compiles with), packages left as imports. A child then starts in
 * under a second instead of compiling every module through tsx again (about 1.6 s each); the bundle
 * lives in the package's .tmp/ so that packageRoot() and the packages resolve as from the sources.
 */
export function entraArgs(): string[] {
  if (bundle === undefined) {
    const dir = join(ROOT, '.tmp', 'test-bin');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `entra-${process.pid}.mjs`);
    buildSync({
      entryPoints: [join(ROOT, 'bin', 'entra.ts')],
      outfile: file,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      packages: 'external',
      logLevel: 'warning',
    });
    process.once('exit', () => rmSync(file, { force: true }));
    bundle = file;
  }
  return [bundle];
}

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

/** `entra <args>` in a child process (`node` on the bundled sources): its exit, stdout and stderr. */
export function runEntra(args: string[], options: CliOptions = {}): Promise<CliExit> {
  const child = spawn(process.execPath, [...entraArgs(), ...args], {
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
