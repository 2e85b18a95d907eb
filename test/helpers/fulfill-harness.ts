import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import * as assert from 'uvu/assert';
import { exportCommand } from '../../src/commands/export.js';
import { fulfillCommand, type FulfillArgs } from '../../src/commands/fulfill.js';
import type { Emulator } from '../../src/emulator/server.js';
import type { ToolError } from '../../src/errors.js';
import type { ResultRow } from '../../src/types.js';
import { withEmulator } from './emulator.js';

/**
 * `entra fulfill` against the emulator, in-process: a work folder with its settings and CA, command
 * CSVs written into it, runs with their results, and the export that shows what changed.
 */

export interface Run {
  code?: number;
  error?: ToolError;
  results: ResultRow[];
  stderr: string;
}

/** A work folder with the emulator's settings and CA, and command CSVs written into it. */
export async function workDir(emu: Emulator): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'fulfill-'));
  await writeFile(join(dir, 'appsettings.agent.json'), JSON.stringify(emu.settings('Contoso')), {
    mode: 0o600,
  });
  await writeFile(join(dir, 'ca.pem'), emu.caPem);
  return dir;
}

export async function withWork(
  options: Parameters<typeof withEmulator>[0],
  fn: (emu: Emulator, dir: string) => Promise<void>,
): Promise<void> {
  await withEmulator(options, async (emu) => {
    const dir = await workDir(emu);
    try {
      await fn(emu, dir);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
}

/** Writes `files` (name → CSV lines) into `dir` and returns their paths, in order. */
export async function csvFiles(dir: string, files: Record<string, string[]>): Promise<string[]> {
  const paths: string[] = [];
  for (const [name, lines] of Object.entries(files)) {
    const path = join(dir, name);
    await writeFile(path, `${lines.join('\n')}\n`);
    paths.push(path);
  }
  return paths;
}

/** Runs fulfill in-process against the emulator, results to a file, stderr captured. */
export async function fulfill(dir: string, files: string[], args: Partial<FulfillArgs> = {}): Promise<Run> {
  const results = join(dir, 'results.csv');
  await rm(results, { force: true });
  const write = process.stderr.write.bind(process.stderr);
  let stderr = '';
  process.stderr.write = (chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  };
  const run: Run = { results: [], stderr: '' };
  try {
    run.code = await fulfillCommand(
      {
        files,
        settings: join(dir, 'appsettings.agent.json'),
        ca: join(dir, 'ca.pem'),
        results,
        writeBudget: 'off',
        quiet: true,
        ...args,
      },
      {},
    );
  } catch (error) {
    run.error = error as ToolError;
  } finally {
    process.stderr.write = write;
  }
  run.stderr = stderr;
  const text = await readFile(results, 'utf8').catch(() => '');
  run.results = text ? parse<ResultRow>(text, { columns: true }) : [];
  return run;
}

/** Every object and link of the tenant, as one comparable string. */
export function snapshot(emu: Emulator): string {
  const entities = ['user', 'group', 'servicePrincipal', 'directoryRole'] as const;
  const objects = entities.flatMap((e) =>
    emu.tenant.list(e).map((o) => ({
      id: o.id,
      e,
      data: o.data,
      members: emu.tenant.links(o.id, 'members').sort(),
      owners: emu.tenant.links(o.id, 'owners').sort(),
    })),
  );
  return JSON.stringify(objects.sort((a, b) => a.id.localeCompare(b.id)));
}

/**
 * `entra export` in-process, the emulator's CA trusted with `ca`; the CSVs it wrote (the default
 * tables, or those of `select`).
 */
export async function exportCsv(
  dir: string,
  select?: string[],
): Promise<Record<string, Record<string, string>[]>> {
  const out = join(dir, 'ExportOutput');
  const code = await exportCommand(
    {
      settings: join(dir, 'appsettings.agent.json'),
      ca: join(dir, 'ca.pem'),
      output: out,
      cookies: join(dir, 'ExportCookies'),
      quiet: true,
      ...(select ? { select } : {}),
    },
    {},
  );
  assert.is(code, 0);
  const tables: Record<string, Record<string, string>[]> = {};
  for (const file of await readdir(out)) {
    const table = /^Contoso_(.+)\.csv$/.exec(file)?.[1];
    if (table) tables[table] = parse(await readFile(join(out, file), 'utf8'), { columns: true });
  }
  return tables;
}
