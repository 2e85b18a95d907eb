/**
 * The scale scenarios of `npm run bench` (issue 14): memory as the tenant grows (6), Graph-like
 * conditions (7: latency with jitter and the RU budget on) and the exporter's CPU per row against
 * `JSON.parse` of the same pages (8). Each prints its figures, its targets with PASS/MISS and its
 * baseline (the smallest tenant, the same export without latency, `JSON.parse`).
 */
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { countRows, fmt, verdict, type BenchEmulator, type Timed } from './lib.js';

export interface BenchContext {
  dir: string;
  line(s?: string): void;
  /** A row of the summary table (also written to the JSON results). */
  row(...cells: string[]): void;
  /** Structured figures of a scenario, for the JSON results. */
  record(scenario: string, figures: Record<string, unknown>): void;
  start(options: object, name: string): Promise<BenchEmulator>;
  /** `entra export` of `emu` (argv after `node`), quiet, into the work dir's `output`. */
  exportArgs(emu: BenchEmulator, output: string, ...flags: string[]): string[];
  run(args: string[], emu: BenchEmulator, what: string): Promise<Timed>;
}

interface Stats {
  requests: number;
  throttled: number;
  ru: number;
}

const load = () => loadavg()[0]!.toFixed(1);
const sec = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** 6. Complete exports of tenants of growing size: rows/s and peak RSS, flat memory as the target. */
export async function memoryScenario(
  ctx: BenchContext,
  sizes: number[],
  groupsPerUser: number,
  flags: string[] = [],
) {
  ctx.line(
    `\n## 6. Memory: complete export at ${sizes.map((n) => fmt(n)).join(', ')} users${flags.length ? ` (${flags.join(' ')})` : ''}`,
  );
  const runs: { users: number; rows: number; ms: number; rss: number; cpuMs: number; load: string }[] = [];
  for (const users of sizes) {
    const groups = Math.round(users * groupsPerUser);
    const emu = await ctx.start({ generate: { users, groups, seed: 1 }, throttle: false }, `mem${users}`);
    try {
      const before = load();
      const r = await ctx.run(
        ctx.exportArgs(emu, `mem${users}`, '--ignore-cookies', ...flags),
        emu,
        `entra export (${users} users)`,
      );
      const rows = countRows(join(ctx.dir, `mem${users}`));
      const run = { users, rows, ms: r.ms, rss: r.peakRssMb, cpuMs: r.cpuMs, load: `${before}/${load()}` };
      runs.push(run);
      ctx.line(
        `${fmt(users).padStart(9)} users, ${fmt(groups)} groups: ${fmt(rows)} rows in ${sec(r.ms)} = ${fmt(rows / (r.ms / 1000))} rows/s (${fmt(rows / (r.cpuMs / 1000))} per CPU-second), peak RSS ${fmt(r.peakRssMb)} MB (emulator ready in ${sec(emu.readyMs)}; load ${run.load})`,
      );
    } finally {
      await emu.stop();
    }
  }
  const base = runs[0]!;
  const peak = Math.max(...runs.map((r) => r.rss));
  const growth = peak / base.rss - 1;
  const flat = growth <= 0.1;
  const under = peak < 250;
  ctx.line(
    `peak RSS from ${fmt(base.users)} to ${fmt(runs.at(-1)!.users)} users: ${fmt(base.rss)} → ${fmt(peak)} MB (${growth >= 0 ? '+' : ''}${(growth * 100).toFixed(0)}%); target within +10%: ${verdict(flat)}; < 250 MB at every size: ${verdict(under)}`,
  );
  for (const r of runs)
    ctx.row(
      `6. memory, complete export${flags.length ? ` (${flags.join(' ')})` : ''}`,
      `${fmt(r.users)} users, ${fmt(r.rows)} rows`,
      `${sec(r.ms)}, ${fmt(r.rows / (r.ms / 1000))} rows/s, peak RSS ${fmt(r.rss)} MB (load ${r.load})`,
      r === base ? '-' : `${fmt(base.rss)} MB at ${fmt(base.users)} users`,
      r === base ? '-' : `${r.rss >= base.rss ? '+' : ''}${((r.rss / base.rss - 1) * 100).toFixed(0)}%`,
      `≤ +10% ${verdict(r.rss <= base.rss * 1.1)}; < 250 MB ${verdict(r.rss < 250)}`,
    );
  ctx.record('6. memory', {
    flags,
    runs: runs.map((r) => ({ ...r, rowsPerSecond: r.rows / (r.ms / 1000) })),
    growth,
    targets: { 'peak RSS within +10%': flat, 'peak RSS < 250 MB': under },
  });
}

/**
 * 7. Graph-like conditions: the same complete export against the same tenant, with Graph's RU budget
 * on, first without latency, then with `latency` ± `jitter` ms; the wall-time ratio, the 429s and the
 * RU spent per second against the budget.
 */
export async function graphLikeScenario(
  ctx: BenchContext,
  users: number,
  groups: number,
  latency: { fixedMs: number; jitterMs: number },
  flags: string[],
) {
  const lo = latency.fixedMs;
  const hi = latency.fixedMs + latency.jitterMs;
  ctx.line(
    `\n## 7. Graph-like conditions: ${fmt(users)} users, ${fmt(groups)} groups, ${lo}-${hi} ms per request, RU budget on`,
  );
  const emu = await ctx.start({ generate: { users, groups, seed: 2 }, throttle: true }, 'graphlike');
  // Graph's budget for the tenant's size (throttling-limits.md), as the emulator applies it.
  const budget = (users < 50 ? 3500 : users <= 500 ? 5000 : 8000) / 10;
  try {
    await emu.command('stats');
    const near = await ctx.run(ctx.exportArgs(emu, 'gl-near', '--ignore-cookies', ...flags), emu, 'near');
    const nearStats = await emu.command<Stats>('stats');
    await emu.command(`latency ${latency.fixedMs} ${latency.jitterMs}`);
    const before = load();
    const far = await ctx.run(ctx.exportArgs(emu, 'gl-far', '--ignore-cookies', ...flags), emu, 'far');
    const farStats = await emu.command<Stats>('stats');
    const rows = countRows(join(ctx.dir, 'gl-far'));
    const nearRows = countRows(join(ctx.dir, 'gl-near'));
    const ratio = far.ms / near.ms;
    const share = farStats.throttled / Math.max(1, farStats.requests);
    const ruPerS = farStats.ru / (far.ms / 1000);
    const figures = {
      users,
      groups,
      latencyMs: [lo, hi],
      flags,
      rows,
      sameRowCount: rows === nearRows,
      near: { ms: near.ms, ...nearStats, peakRssMb: near.peakRssMb },
      far: { ms: far.ms, ...farStats, peakRssMb: far.peakRssMb, load: `${before}/${load()}` },
      ratio,
      throttledShare: share,
      ruPerSecond: ruPerS,
      ruBudgetPerSecond: budget,
    };
    ctx.line(
      `no latency:   ${fmt(nearRows)} rows in ${sec(near.ms)}, ${fmt(nearStats.requests)} requests, ${nearStats.throttled} 429s, ${fmt(nearStats.ru)} RU`,
    );
    ctx.line(
      `${lo}-${hi} ms: ${fmt(rows)} rows in ${sec(far.ms)}, ${fmt(farStats.requests)} requests, ${farStats.throttled} 429s, ${fmt(farStats.ru)} RU, peak RSS ${fmt(far.peakRssMb)} MB (load ${figures.far.load})`,
    );
    ctx.line(
      `wall time ${ratio.toFixed(2)}x the export without latency; target ≤ 1.5x: ${verdict(ratio <= 1.5)}`,
    );
    ctx.line(`429s: ${(share * 100).toFixed(2)}% of requests; target ≤ 1%: ${verdict(share <= 0.01)}`);
    ctx.line(
      `RU spent: ${fmt(ruPerS, 1)} RU/s of Graph's ${fmt(budget)} RU/s for this tenant (${((ruPerS / budget) * 100).toFixed(0)}%)`,
    );
    if (rows !== nearRows) ctx.line(`ROWS DIFFER: ${fmt(rows)} with latency, ${fmt(nearRows)} without`);
    ctx.row(
      `7. complete export, ${lo}-${hi} ms, RU budget on`,
      `${fmt(users)} users, ${fmt(rows)} rows`,
      `${sec(far.ms)}; ${farStats.throttled} 429s of ${fmt(farStats.requests)} requests; ${fmt(ruPerS, 1)} of ${fmt(budget)} RU/s`,
      `${sec(near.ms)} without latency`,
      `${ratio.toFixed(2)}x`,
      `≤ 1.5x ${verdict(ratio <= 1.5)}; 429s ≤ 1% ${verdict(share <= 0.01)}`,
    );
    ctx.record('7. graph-like', {
      ...figures,
      targets: { 'wall time ≤ 1.5x': ratio <= 1.5, '429s ≤ 1%': share <= 0.01 },
    });
  } finally {
    await emu.stop();
  }
}

/** One GET over keep-alive HTTPS: status and raw text. */
function getText(agent: Agent, url: string, headers: Record<string, string>): Promise<string> {
  return new Promise((ok, fail) => {
    const req = request(url, { headers, agent }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', fail);
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) fail(new Error(`GET ${url}: ${res.statusCode} ${text.slice(0, 300)}`));
        else ok(text);
      });
    });
    req.on('error', fail);
    req.end();
  });
}

/** The pages of every delta round in `firsts` (paths of first requests), as raw text. */
async function deltaPages(emu: BenchEmulator, firsts: string[]): Promise<string[]> {
  const settings = JSON.parse(readFileSync(emu.settings, 'utf8')).Connections.Bench as Record<string, string>;
  const agent = new Agent({ keepAlive: true, maxSockets: 1, ca: readFileSync(emu.ca) });
  try {
    const form = new URLSearchParams({
      client_id: settings.ApplicationId!,
      client_secret: settings.ApplicationKey!,
      scope: 'https://graph.microsoft.com/.default',
      grant_type: 'client_credentials',
    }).toString();
    const token = await new Promise<string>((ok, fail) => {
      const req = request(
        `${emu.url}/${settings.TenantId}/oauth2/v2.0/token`,
        { method: 'POST', agent, headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        (res) => {
          let t = '';
          res.on('data', (c: Buffer) => (t += c.toString()));
          res.on('end', () => ok((JSON.parse(t) as { access_token: string }).access_token));
        },
      );
      req.on('error', fail);
      req.end(form);
    });
    const pages: string[] = [];
    for (const first of firsts) {
      let next: string | undefined = `${emu.url}${first}`;
      while (next) {
        const text = await getText(agent, next, { authorization: `Bearer ${token}` });
        pages.push(text);
        next = (JSON.parse(text) as { '@odata.nextLink'?: string })['@odata.nextLink'];
      }
    }
    return pages;
  } finally {
    agent.destroy();
  }
}

/**
 * 8. The exporter's CPU per row against `JSON.parse` of the same pages, in the same run: the export
 * runs (`--parallel 1`: the sequential delta rounds), then the bench reads the same rounds and parses their
 * pages, timing the parse alone (best of three).
 */
export async function cpuScenario(ctx: BenchContext, users: number, groups: number) {
  ctx.line(
    `\n## 8. Exporter CPU per row vs JSON.parse of the same pages, ${fmt(users)} users, ${fmt(groups)} groups`,
  );
  const emu = await ctx.start({ generate: { users, groups, seed: 3 }, throttle: false }, 'cpu');
  try {
    await emu.command('stats');
    const r = await ctx.run(
      ctx.exportArgs(emu, 'cpu', '--ignore-cookies', '--parallel', '1'),
      emu,
      'entra export',
    );
    const { firsts } = await emu.command<{ firsts: string[] }>('firsts');
    const rows = countRows(join(ctx.dir, 'cpu'));
    const pages = await deltaPages(emu, firsts);
    const bytes = pages.reduce((n, p) => n + Buffer.byteLength(p), 0);
    let parseMs = Infinity;
    let sink = 0;
    for (let k = 0; k < 3; k++) {
      const c0 = process.cpuUsage();
      for (const p of pages) sink += (JSON.parse(p) as { value: unknown[] }).value.length;
      const c = process.cpuUsage(c0);
      parseMs = Math.min(parseMs, (c.user + c.system) / 1000);
    }
    const objects = sink / 3;
    const ratio = r.cpuMs / parseMs;
    ctx.line(
      `entra export: ${fmt(rows)} rows from ${fmt(objects)} objects (${fmt(pages.length)} pages, ${fmt(bytes / 1048576)} MB) in ${sec(r.ms)}; exporter CPU ${sec(r.cpuMs)} = ${fmt(rows / (r.cpuMs / 1000))} rows per CPU-second`,
    );
    ctx.line(
      `JSON.parse of the same pages: ${sec(parseMs)} CPU = ${fmt(rows / (parseMs / 1000))} rows per CPU-second (${fmt(objects / (parseMs / 1000))} objects/s)`,
    );
    ctx.line(`exporter CPU ${ratio.toFixed(2)}x JSON.parse's; target within 1.5x: ${verdict(ratio <= 1.5)}`);
    ctx.row(
      '8. exporter CPU per row',
      `${fmt(users)} users, ${fmt(rows)} rows`,
      `${sec(r.cpuMs)} CPU, ${fmt(rows / (r.cpuMs / 1000))} rows/CPU-s`,
      `JSON.parse ${sec(parseMs)}, ${fmt(rows / (parseMs / 1000))} rows/CPU-s`,
      `${ratio.toFixed(2)}x`,
      `≤ 1.5x ${verdict(ratio <= 1.5)}`,
    );
    ctx.record('8. cpu', {
      users,
      groups,
      rows,
      objects,
      pages: pages.length,
      bytes,
      exporterCpuMs: r.cpuMs,
      parseCpuMs: parseMs,
      ratio,
      load: load(),
      targets: { 'CPU within 1.5x of JSON.parse': ratio <= 1.5 },
    });
  } finally {
    await emu.stop();
  }
}
