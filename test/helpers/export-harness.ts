import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { exportCommand, type ExportArgs } from '../../src/commands/export.js';
import { startEmulator, type Emulator, type EmulatorOptions } from '../../src/emulator/server.js';
import { formatError, ToolError } from '../../src/errors.js';
import { testTls } from './identity-server.js';

/** What one in-process export run left: its exit code and what it wrote on stdout and stderr. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** An emulator, a temp folder with its settings and CA, and a way to run `entra export` against it in-process. */
export interface Harness {
  emu: Emulator;
  dir: string;
  settingsFile: string;
  caFile: string;
  out: string;
  cookies: string;
  /** The settings, CA, output and cookie folders of the harness, overridden by `args`. */
  run(args?: Partial<ExportArgs>, io?: { progressIntervalMs?: number }): Promise<RunResult>;
  /** `<out>/Contoso_<table>.csv`. */
  read(table: string): Promise<string>;
  /** Every file of the output and cookie folders (temp files too; not the run record), by `out/<name>` or `cookies/<name>`. */
  snapshot(): Promise<Map<string, string>>;
}

/** A Writable that keeps what it is given. */
export function textSink(): Writable & { text: string } {
  const sink = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      sink.text += chunk.toString();
      callback();
    },
  }) as Writable & { text: string };
  sink.text = '';
  return sink;
}

/** Runs the export command the way `runCommand` does, but without touching the process. */
export async function runExport(
  args: ExportArgs,
  env: NodeJS.ProcessEnv = {},
  io: { progressIntervalMs?: number } = {},
): Promise<RunResult> {
  const stdout = textSink();
  const stderr = textSink();
  let code: number;
  try {
    code = await exportCommand(args, env, { stdout, stderr, ...io });
  } catch (error) {
    stderr.text += `${formatError(error).join('\n')}\n`;
    code = error instanceof ToolError ? error.exitCode : 1;
  }
  return { code, stdout: stdout.text, stderr: stderr.text };
}

async function listFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch {
    return [];
  }
}

/** An emulator (throttling off, shared test keys) and a temp folder; `close()` removes both. */
export async function openHarness(options: EmulatorOptions): Promise<Harness & { close(): Promise<void> }> {
  const emu = await startEmulator({ throttle: false, tls: testTls(), ...options });
  let dir: string | undefined;
  try {
    dir = await mkdtemp(join(tmpdir(), 'entra-export-'));
    const settingsFile = join(dir, 'appsettings.agent.json');
    const caFile = join(dir, 'ca.pem');
    await writeFile(settingsFile, JSON.stringify(emu.settings('Contoso'), null, 2), { mode: 0o600 });
    await writeFile(caFile, emu.caPem);
    const out = join(dir, 'out');
    const cookies = join(dir, 'cookies');
    const folder = dir;
    return {
      emu,
      dir,
      settingsFile,
      caFile,
      out,
      cookies,
      run: (args = {}, io = {}) =>
        runExport({ settings: settingsFile, ca: caFile, output: out, cookies, ...args }, {}, io),
      read: (table) => readFile(join(out, `Contoso_${table}.csv`), 'utf8'),
      async snapshot() {
        const files = new Map<string, string>();
        for (const [name, path] of [
          ['out', out],
          ['cookies', cookies],
        ] as const)
          for (const file of await listFiles(path))
            // The run record changes with every scheduled run, failed ones too (export-state tests).
            if (!file.endsWith('_runs.json'))
              files.set(`${name}/${file}`, await readFile(join(path, file), 'utf8'));
        return files;
      },
      async close() {
        await emu.close();
        await rm(folder, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await emu.close();
    if (dir) await rm(dir, { recursive: true, force: true });
    throw error;
  }
}

/** {@link openHarness} for the duration of `fn`, closed whatever happens. */
export async function withHarness(
  options: EmulatorOptions,
  fn: (h: Harness) => Promise<void>,
): Promise<void> {
  const h = await openHarness(options);
  try {
    await fn(h);
  } finally {
    await h.close();
  }
}

/** CSV text → rows of cells (no quoted newlines in the tenants the tests use). */
export function csvRows(text: string): string[][] {
  const rows: string[][] = [];
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const cells: string[] = [];
    let cell = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i]!;
      if (quoted) {
        if (c === '"' && line[i + 1] === '"') {
          cell += '"';
          i++;
        } else if (c === '"') quoted = false;
        else cell += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') {
        cells.push(cell);
        cell = '';
      } else cell += c;
    }
    cells.push(cell);
    rows.push(cells);
  }
  return rows;
}

/** CSV text → objects keyed by the header's columns. */
export function csvObjects(text: string): Record<string, string>[] {
  const [header, ...rows] = csvRows(text);
  return rows.map((r) => Object.fromEntries(header!.map((h, i) => [h, r[i] ?? ''])));
}
