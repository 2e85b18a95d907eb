/** Shared pieces of the benchmarks: emulator processes, timed child processes with peak RSS, CSV counting. */
import { spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync, readSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import type { EmulatorOptions } from '../src/emulator/server.js';

export const ROOT = resolve(import.meta.dirname, '..');

export interface BenchEmulator {
  url: string;
  settings: string;
  ca: string;
  readyMs: number;
  pid: number;
  /** Sends a control line (see bench/emulator-process.ts) and returns its JSON answer. */
  command<T = Record<string, unknown>>(line: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts an emulator in its own process (bench/emulator-process.ts). */
export async function startEmulatorProcess(
  options: EmulatorOptions,
  dir: string,
  name: string,
): Promise<BenchEmulator> {
  const settings = join(dir, `${name}.settings.json`);
  const ca = join(dir, `${name}.ca.pem`);
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=12288',
      '--import',
      'tsx',
      'bench/emulator-process.ts',
      JSON.stringify(options),
      settings,
      ca,
    ],
    { cwd: ROOT, stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines = createInterface({ input: child.stdout });
  const waiting: { ok: (line: string) => void; fail: (e: Error) => void }[] = [];
  lines.on('line', (l) => waiting.shift()?.ok(l));
  child.once('exit', (code) => {
    for (const w of waiting.splice(0)) w.fail(new Error(`emulator process exited with ${code}`));
  });
  const next = () => new Promise<string>((ok, fail) => waiting.push({ ok, fail }));
  const ready = JSON.parse(await next()) as { url: string; readyMs: number; pid: number };
  return {
    ...ready,
    settings,
    ca,
    async command<T>(l: string): Promise<T> {
      const answer = next();
      child.stdin.write(`${l}\n`);
      return JSON.parse(await answer) as T;
    },
    stop: () =>
      new Promise<void>((done) => {
        child.once('exit', () => done());
        child.stdin.end();
      }),
  };
}

export interface Timed {
  code: number | null;
  ms: number;
  peakRssMb: number;
  /** CPU time (user + system) of the process, from its last /proc sample. */
  cpuMs: number;
  stdout: string;
  stderr: string;
}

/** Runs a command, timing it and sampling its peak RSS (VmHWM) from /proc. */
export function timed(args: string[], env: NodeJS.ProcessEnv): Promise<Timed> {
  const started = performance.now();
  const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  let peakKb = 0;
  let cpuTicks = 0;
  const sample = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, 'utf8');
      const hwm = /VmHWM:\s+(\d+)/.exec(status);
      if (hwm) peakKb = Math.max(peakKb, Number(hwm[1]));
      // Fields 14 and 15 of /proc/<pid>/stat: utime and stime, in clock ticks (100 a second).
      const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      cpuTicks = Math.max(cpuTicks, Number(fields[11]) + Number(fields[12]));
    } catch {
      // gone
    }
  };
  const timer = setInterval(sample, 50);
  return new Promise((done) => {
    child.once('exit', (code) => {
      clearInterval(timer);
      done({
        code,
        ms: performance.now() - started,
        peakRssMb: peakKb / 1024,
        cpuMs: cpuTicks * 10,
        stdout,
        stderr,
      });
    });
  });
}

/** Data rows (header excluded) of every CSV in `dir`, read in chunks (files may pass 512 MB). */
export function countRows(dir: string): number {
  let n = 0;
  const chunk = Buffer.allocUnsafe(1 << 20);
  for (const f of readdirSync(dir))
    if (f.endsWith('.csv')) {
      const fd = openSync(join(dir, f), 'r');
      let lines = 0;
      try {
        for (let got = readSync(fd, chunk); got > 0; got = readSync(fd, chunk))
          for (let i = chunk.indexOf(10); i >= 0 && i < got; i = chunk.indexOf(10, i + 1)) lines++;
      } finally {
        closeSync(fd);
      }
      n += Math.max(0, lines - 1);
    }
  return n;
}

/** True when two output folders hold the same rows per file (order aside). */
export function sameRows(a: string, b: string): boolean {
  const files = readdirSync(a)
    .filter((f) => f.endsWith('.csv'))
    .sort();
  if (
    files.join() !==
    readdirSync(b)
      .filter((f) => f.endsWith('.csv'))
      .sort()
      .join()
  )
    return false;
  for (const f of files) {
    const rows = (d: string) => readFileSync(join(d, f), 'utf8').trimEnd().split('\n');
    const [ha, ...ra] = rows(a);
    const [hb, ...rb] = rows(b);
    if (ha !== hb || ra.length !== rb.length) return false;
    ra.sort();
    rb.sort();
    for (let i = 0; i < ra.length; i++) if (ra[i] !== rb[i]) return false;
  }
  return true;
}

/** A small HTTPS JSON client for the bench's own setup calls (token, $batch of changes). */
export function graphCaller(emu: BenchEmulator) {
  const settings = JSON.parse(readFileSync(emu.settings, 'utf8')).Connections.Bench as Record<string, string>;
  const ca = readFileSync(emu.ca, 'utf8');
  const agent = new Agent({ keepAlive: true, ca });
  const call = (method: string, url: string, body: string, headers: Record<string, string>) =>
    new Promise<{ status: number; json: any }>((ok, fail) => {
      const req = request(url, { method, headers, agent }, (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString()));
        res.on('end', () => ok({ status: res.statusCode ?? 0, json: text ? JSON.parse(text) : undefined }));
      });
      req.on('error', fail);
      req.end(body);
    });
  let token: string | undefined;
  return {
    async batch(requests: unknown[]): Promise<{ status: number; json: any }> {
      if (!token) {
        const form = new URLSearchParams({
          client_id: settings.ApplicationId!,
          client_secret: settings.ApplicationKey!,
          scope: 'https://graph.microsoft.com/.default',
          grant_type: 'client_credentials',
        }).toString();
        const r = await call('POST', `${emu.url}/${settings.TenantId}/oauth2/v2.0/token`, form, {
          'content-type': 'application/x-www-form-urlencoded',
        });
        token = r.json.access_token as string;
      }
      return call('POST', `${emu.url}/v1.0/$batch`, JSON.stringify({ requests }), {
        authorization: `Bearer ${token}`,
        'content-type': 'application/json',
      });
    },
    close: () => agent.destroy(),
  };
}

export const fmt = (n: number, digits = 0) =>
  n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
export const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
