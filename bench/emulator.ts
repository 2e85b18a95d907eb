/**
 * Emulator benchmark: generation time and memory of a large generated tenant, then the rate of a
 * users delta round and of a groups delta round with members, measured over keep-alive HTTPS
 * against `entra emulate` running in its own process.
 *
 *   node --import tsx bench/emulator.ts [--users N] [--groups M] [--cpu-prof DIR]
 *
 * `--cpu-prof DIR` runs the emulator under `node --cpu-prof` and leaves the profile in DIR.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';

const TARGET = { generationS: 60, usersPerS: 100_000, linksPerS: 500_000 };

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    groups: { type: 'string', default: '100000' },
    'cpu-prof': { type: 'string' },
  },
});
const users = Number(values.users);
const groups = Number(values.groups);
const root = resolve(import.meta.dirname, '..');
const dir = mkdtempSync(join(tmpdir(), 'entra-bench-'));
const caFile = join(dir, 'ca.pem');

interface Ready {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

const nodeArgs = ['--import', 'tsx'];
if (values['cpu-prof']) nodeArgs.push('--cpu-prof', `--cpu-prof-dir=${resolve(values['cpu-prof'])}`);
const started = performance.now();
const child = spawn(
  process.execPath,
  [
    ...nodeArgs,
    'bin/entra.ts',
    'emulate',
    '--users',
    String(users),
    '--groups',
    String(groups),
    '--no-throttle',
    '--ca-out',
    caFile,
  ],
  { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
);
let stderr = '';
child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));

try {
  const ready = await new Promise<Ready>((done, fail) => {
    const lines = createInterface({ input: child.stdout });
    lines.once('line', (line) => done(JSON.parse(line) as Ready));
    child.once('exit', (code) => fail(new Error(`emulator exited (${code}): ${stderr}`)));
  });
  const startupS = (performance.now() - started) / 1000;
  const generationS = Number(/ready in ([\d.]+) s/.exec(stderr)?.[1] ?? startupS);
  const rssMb =
    Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) / 1024;

  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(caFile) });
  const get = (url: string, headers: Record<string, string>, method = 'GET', body?: string) =>
    new Promise<any>((done, fail) => {
      const req = request(url, { method, headers, agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', fail);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode !== 200) fail(new Error(`${method} ${url}: ${res.statusCode} ${text}`));
          else done(JSON.parse(text));
        });
      });
      req.on('error', fail);
      req.end(body);
    });

  const form = new URLSearchParams({
    client_id: ready.clientId,
    client_secret: ready.clientSecret,
    scope: 'https://graph.microsoft.com/.default',
    grant_type: 'client_credentials',
  }).toString();
  const token = (
    (await get(
      `${ready.url}/${ready.tenantId}/oauth2/v2.0/token`,
      { 'content-type': 'application/x-www-form-urlencoded' },
      'POST',
      form,
    )) as { access_token: string }
  ).access_token;
  const auth = { authorization: `Bearer ${token}` };

  /** CPU seconds the emulator process has used (utime + stime, in clock ticks of 1/100 s). */
  const emulatorCpu = () => {
    const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  };

  /** One whole delta round; `count` says what a page contributes. */
  async function round(path: string, count: (page: any[]) => number) {
    const t0 = performance.now();
    const cpu0 = emulatorCpu();
    const client0 = process.cpuUsage();
    let next: string | undefined = `${ready.url}/v1.0/${path}`;
    let n = 0;
    let pages = 0;
    while (next) {
      const page = await get(next, auth);
      pages++;
      n += count(page.value as any[]);
      next = page['@odata.nextLink'];
      if (!next && !page['@odata.deltaLink']) throw new Error('a page without nextLink or deltaLink');
    }
    const client = process.cpuUsage(client0);
    return {
      n,
      pages,
      seconds: (performance.now() - t0) / 1000,
      cpu: emulatorCpu() - cpu0,
      clientCpu: (client.user + client.system) / 1e6,
    };
  }

  const u = await round('users/delta?$select=displayName,userPrincipalName', (v) => v.length);
  const g = await round('groups/delta?$select=displayName,members', (v) =>
    v.reduce((sum: number, x: any) => sum + ((x['members@delta'] as unknown[] | undefined)?.length ?? 0), 0),
  );
  agent.destroy();

  const verdict = (ok: boolean) => (ok ? 'PASS' : 'MISS');
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const usersRate = u.n / u.seconds;
  const linksRate = g.n / g.seconds;
  const out = [
    `tenant          ${fmt(users)} users, ${fmt(groups)} groups`,
    `generation      ${generationS.toFixed(1)} s (process ready after ${startupS.toFixed(1)} s)   target < ${TARGET.generationS} s   ${verdict(generationS < TARGET.generationS)}`,
    `emulator RSS    ${fmt(rssMb)} MB`,
    `users delta     ${fmt(u.n)} users in ${u.pages} pages, ${u.seconds.toFixed(2)} s: ${fmt(usersRate)} users/s   target >= ${fmt(TARGET.usersPerS)}   ${verdict(usersRate >= TARGET.usersPerS)}`,
    `                (emulator CPU ${u.cpu.toFixed(2)} s, client CPU ${u.clientCpu.toFixed(2)} s)`,
    `groups delta    ${fmt(g.n)} links in ${g.pages} pages, ${g.seconds.toFixed(2)} s: ${fmt(linksRate)} links/s   target >= ${fmt(TARGET.linksPerS)}   ${verdict(linksRate >= TARGET.linksPerS)}`,
    `                (emulator CPU ${g.cpu.toFixed(2)} s, client CPU ${g.clientCpu.toFixed(2)} s)`,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
} finally {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((done) => child.once('exit', done));
    child.kill('SIGTERM');
    await exited;
  }
  rmSync(dir, { recursive: true, force: true });
}
