/**
 * `npm run bench`: the performance scenarios of the connector, each beside a baseline measured in the
 * same run (the same job written with the official Microsoft Graph JavaScript SDK: bench/baseline-*.ts),
 * with the targets and PASS/MISS. The emulators run in processes of their own; the exporter's peak RSS
 * is sampled from /proc. Flags size everything; the defaults finish in a few minutes on 2 cores.
 *
 *   npm run bench -- [--users 1000000] [--groups 100000] [--small-users 100000] [--small-groups 10000]
 *                    [--latency-users 100000] [--latency-groups 10000] [--latency 100] [--parallel 16]
 *                    [--fulfill-users 100000] [--fulfill-rows 20000] [--budget-rows 2000] [--budget 200/5]
 *                    [--diff-users 1000000]
 *                    [--mem-users 100000,1000000,5000000] [--mem-groups-per-user 0.1] [--mem-flags='--parallel 1']
 *                    [--graph-users 1000000] [--graph-groups 100000] [--graph-latency 100-400] [--graph-flags=...]
 *                    [--cpu-users 100000] [--cpu-groups 10000]
 *                    [--only 1,2,3,4,5,6,7,8] [--no-baseline] [--json FILE]
 *
 * Scenarios 6-8 (bench/scale.ts): memory as the tenant grows, Graph-like conditions, CPU per row.
 * Every figure also goes to a JSON file: bench/results/<timestamp>.json unless `--json FILE`.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { generateTenant } from '../src/emulator/generate.js';
import { DirectoryStore } from '../src/emulator/store.js';
import {
  countRows,
  fmt,
  graphCaller,
  sameRows,
  startEmulatorProcess,
  timed,
  verdict,
  ROOT,
  type BenchEmulator,
  type Timed,
} from './lib.js';
import { cpuScenario, graphLikeScenario, memoryScenario, type BenchContext } from './scale.js';

const { values } = parseArgs({
  options: {
    users: { type: 'string', default: '1000000' },
    groups: { type: 'string', default: '100000' },
    'small-users': { type: 'string', default: '100000' },
    'small-groups': { type: 'string', default: '10000' },
    'latency-users': { type: 'string', default: '100000' },
    'latency-groups': { type: 'string', default: '10000' },
    latency: { type: 'string', default: '100' },
    parallel: { type: 'string', default: '16' },
    'fulfill-users': { type: 'string', default: '100000' },
    'fulfill-rows': { type: 'string', default: '20000' },
    'budget-rows': { type: 'string', default: '2000' },
    budget: { type: 'string', default: '200/5' },
    'diff-users': { type: 'string', default: '1000000' },
    'mem-users': { type: 'string', default: '100000,1000000,5000000' },
    'mem-groups-per-user': { type: 'string', default: '0.1' },
    'mem-flags': { type: 'string', default: '' },
    'graph-users': { type: 'string', default: '1000000' },
    'graph-groups': { type: 'string', default: '100000' },
    'graph-latency': { type: 'string', default: '100-400' },
    'graph-flags': { type: 'string', default: '' },
    'cpu-users': { type: 'string', default: '100000' },
    'cpu-groups': { type: 'string', default: '10000' },
    json: { type: 'string' },
    only: { type: 'string', default: '1,2,3,4,5,6,7,8' },
    'no-baseline': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const num = (k: keyof typeof values) => Number(values[k]);
const only = new Set(String(values.only).split(','));
const baseline = !values['no-baseline'];
const dir = mkdtempSync(join(tmpdir(), 'entra-bench-'));
const ENTRA = ['dist/bin/entra.js'];
const BASE_EXPORT = ['--import', 'tsx', 'bench/baseline-export.ts'];
const BASE_FULFILL = ['--import', 'tsx', 'bench/baseline-fulfill.ts'];
const env = (ca: string): NodeJS.ProcessEnv => ({
  ...process.env,
  NODE_EXTRA_CA_CERTS: ca,
  NODE_OPTIONS: '',
});
const out = (name: string) => {
  const d = join(dir, name);
  mkdirSync(d, { recursive: true });
  return d;
};
/** `entra export` of the emulator `emu` into the work dir's `output`, quietly. */
const entraExport = (emu: { settings: string }, output: string, cookies: string, ...flags: string[]) => [
  ...ENTRA,
  'export',
  '--settings',
  emu.settings,
  '--output',
  out(output),
  '--cookies',
  cookies,
  ...flags,
  '--quiet',
];
const line = (s = '') => process.stdout.write(`${s}\n`);
const must = (r: Timed, what: string) => {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stderr.slice(-2000)}`);
  return r;
};
const results: string[] = [];
const json = {
  started: new Date().toISOString(),
  node: process.version,
  cpus: cpus().length,
  loadAtStart: loadavg(),
  flags: values,
  table: [] as Record<string, string>[],
  scenarios: {} as Record<string, unknown>,
};
const row = (...cells: string[]) => {
  results.push(`| ${cells.join(' | ')} |`);
  const [scenario, size, ours, base, ratio, target] = cells;
  json.table.push({
    scenario: scenario!,
    size: size!,
    ours: ours!,
    baseline: base!,
    ratio: ratio!,
    target: target!,
  });
};
const ctx: BenchContext = {
  dir,
  line,
  row,
  record: (scenario, figures) => void (json.scenarios[scenario] = figures),
  start: (options, name) => startEmulatorProcess(options, dir, name),
  exportArgs: (emu, output, ...flags) => entraExport(emu, output, out(`${output}-cookies`), ...flags),
  run: async (args, emu: BenchEmulator, what) => must(await timed(args, env(emu.ca)), what),
};

line(`entra-connector benchmarks (${new Date().toISOString()}, node ${process.version}, work dir ${dir})`);

async function exportScenarios(): Promise<void> {
  const users = num('users');
  const groups = num('groups');
  line(`\n## 1. Complete export, ${fmt(users)} users, ${fmt(groups)} groups, no latency`);
  const emu = await startEmulatorProcess(
    { generate: { users, groups, seed: 1 }, throttle: false },
    dir,
    'big',
  );
  line(`emulator ready in ${(emu.readyMs / 1000).toFixed(1)} s`);
  try {
    const ours = must(
      await timed(entraExport(emu, 'ours1', out('ours1-cookies'), '--ignore-cookies'), env(emu.ca)),
      'entra export',
    );
    const rows = countRows(join(dir, 'ours1'));
    const rate = rows / (ours.ms / 1000);
    line(
      `entra export:    ${fmt(rows)} rows in ${(ours.ms / 1000).toFixed(1)} s = ${fmt(rate)} rows/s, peak RSS ${fmt(ours.peakRssMb)} MB`,
    );
    // Exporter and emulator share the machine's cores: the exporter's own cost per row, apart.
    line(
      `                 exporter CPU ${(ours.cpuMs / 1000).toFixed(1)} s = ${fmt(rows / (ours.cpuMs / 1000))} rows per CPU-second`,
    );
    let base: Timed | undefined;
    if (baseline) {
      base = must(
        await timed([...BASE_EXPORT, emu.settings, out('base1'), join(dir, 'base1.links.json')], env(emu.ca)),
        'baseline export',
      );
      line(
        `baseline (SDK):  ${fmt(countRows(join(dir, 'base1')))} rows in ${(base.ms / 1000).toFixed(1)} s = ${fmt(countRows(join(dir, 'base1')) / (base.ms / 1000))} rows/s, peak RSS ${fmt(base.peakRssMb)} MB`,
      );
      line(
        `ratio: ${(base.ms / ours.ms).toFixed(2)}x faster; identical rows: ${sameRows(join(dir, 'ours1'), join(dir, 'base1')) ? 'yes' : 'NO'}`,
      );
    }
    line(
      `target ≥ 100,000 rows/s: ${verdict(rate >= 100_000)}; peak RSS < 300 MB: ${verdict(ours.peakRssMb < 300)}`,
    );
    row(
      '1. complete export, no latency',
      `${fmt(users)} users, ${fmt(rows)} rows`,
      `${(ours.ms / 1000).toFixed(1)} s, ${fmt(rate)} rows/s, ${fmt(ours.peakRssMb)} MB`,
      base ? `${(base.ms / 1000).toFixed(1)} s, ${fmt(base.peakRssMb)} MB` : '-',
      base ? `${(base.ms / ours.ms).toFixed(2)}x` : '-',
      `≥ 100,000 rows/s ${verdict(rate >= 100_000)}; < 300 MB ${verdict(ours.peakRssMb < 300)}`,
    );

    // Flat memory: the same export of a tenant ten times smaller.
    const small = await startEmulatorProcess(
      { generate: { users: num('small-users'), groups: num('small-groups'), seed: 1 }, throttle: false },
      dir,
      'small',
    );
    try {
      const s = must(
        await timed(entraExport(small, 'small', out('small-cookies'), '--ignore-cookies'), env(small.ca)),
        'entra export (small)',
      );
      const drift = ours.peakRssMb / s.peakRssMb - 1;
      line(
        `peak RSS at ${fmt(num('small-users'))} users: ${fmt(s.peakRssMb)} MB; at ${fmt(users)}: ${fmt(ours.peakRssMb)} MB (${(drift * 100).toFixed(0)}%); target within ±20%: ${verdict(Math.abs(drift) <= 0.2)}`,
      );
      row(
        '1. peak RSS, 10x fewer users',
        `${fmt(num('small-users'))} users`,
        `${fmt(s.peakRssMb)} MB vs ${fmt(ours.peakRssMb)} MB (${(drift * 100).toFixed(0)}%)`,
        '-',
        '-',
        `±20% ${verdict(Math.abs(drift) <= 0.2)}`,
      );
    } finally {
      await small.stop();
    }

    if (only.has('3')) {
      line(`\n## 3. Incremental export after 1% of the users changed`);
      const changed = Math.floor(users / 100);
      const caller = graphCaller(emu);
      const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.onmicrosoft.com'] });
      generateTenant(store, { users, groups: 0, seed: 1 });
      const ids = store
        .entityStore('user')
        .slots.slice(0, changed)
        .map((o) => o!.id);
      for (let i = 0; i < ids.length; i += 20) {
        const requests = ids.slice(i, i + 20).map((id, k) => ({
          id: String(k + 1),
          method: 'PATCH',
          url: `/users/${id}`,
          headers: { 'Content-Type': 'application/json' },
          body: { jobTitle: `Changed ${i + k}` },
        }));
        const r = await caller.batch(requests);
        if (r.status !== 200) throw new Error(`$batch of changes failed: ${r.status}`);
      }
      caller.close();
      const inc = must(
        // Its own folder for the rows it counts: the scheduled run's then, as it moves the cookies on.
        await timed(entraExport(emu, 'ours3', join(dir, 'ours1-cookies'), '--advance-cookies'), env(emu.ca)),
        'entra export (incremental)',
      );
      const incRows = countRows(join(dir, 'ours3'));
      line(`entra export:    ${fmt(incRows)} rows in ${(inc.ms / 1000).toFixed(1)} s`);
      let b3: Timed | undefined;
      if (baseline) {
        b3 = must(
          await timed(
            [...BASE_EXPORT, emu.settings, out('base3'), join(dir, 'base1.links.json')],
            env(emu.ca),
          ),
          'baseline incremental',
        );
        line(
          `baseline (SDK):  ${fmt(countRows(join(dir, 'base3')))} rows in ${(b3.ms / 1000).toFixed(1)} s; ratio ${(b3.ms / inc.ms).toFixed(2)}x; identical rows: ${sameRows(join(dir, 'ours3'), join(dir, 'base3')) ? 'yes' : 'NO'}`,
        );
      }
      row(
        '3. incremental, 1% changed',
        `${fmt(changed)} users changed, ${fmt(incRows)} rows`,
        `${(inc.ms / 1000).toFixed(1)} s`,
        b3 ? `${(b3.ms / 1000).toFixed(1)} s` : '-',
        b3 ? `${(b3.ms / inc.ms).toFixed(2)}x` : '-',
        '-',
      );
    }
  } finally {
    await emu.stop();
  }
}

async function latencyScenario(): Promise<void> {
  const users = num('latency-users');
  const groups = num('latency-groups');
  const latency = num('latency');
  const parallel = String(values.parallel);
  line(
    `\n## 2. Complete export with ${latency} ms latency per request, ${fmt(users)} users, ${fmt(groups)} groups`,
  );
  const emu = await startEmulatorProcess(
    { generate: { users, groups, seed: 2 }, throttle: false, latency: { fixedMs: latency, jitterMs: 0 } },
    dir,
    'slow',
  );
  try {
    const ours = must(
      await timed(
        entraExport(emu, 'ours2', out('ours2-cookies'), '--ignore-cookies', '--parallel', parallel),
        env(emu.ca),
      ),
      'entra export --parallel',
    );
    const seq = must(
      await timed(entraExport(emu, 'ours2s', out('ours2s-cookies'), '--ignore-cookies'), env(emu.ca)),
      'entra export (sequential)',
    );
    line(
      `entra export --parallel ${parallel}: ${(ours.ms / 1000).toFixed(1)} s; sequential delta rounds: ${(seq.ms / 1000).toFixed(1)} s`,
    );
    let base: Timed | undefined;
    if (baseline) {
      base = must(
        await timed([...BASE_EXPORT, emu.settings, out('base2')], env(emu.ca)),
        'baseline export (latency)',
      );
      const ratio = base.ms / ours.ms;
      const same = sameRows(join(dir, 'ours2'), join(dir, 'base2'));
      line(
        `baseline (SDK):  ${(base.ms / 1000).toFixed(1)} s; ratio ${ratio.toFixed(2)}x; identical rows: ${same ? 'yes' : 'NO'}`,
      );
      line(`target ≥ 4x faster than the baseline with identical output: ${verdict(ratio >= 4 && same)}`);
      row(
        `2. complete export, ${latency} ms latency`,
        `${fmt(users)} users, --parallel ${parallel}`,
        `${(ours.ms / 1000).toFixed(1)} s (sequential ${(seq.ms / 1000).toFixed(1)} s)`,
        `${(base.ms / 1000).toFixed(1)} s`,
        `${ratio.toFixed(2)}x`,
        `≥ 4x, same rows ${verdict(ratio >= 4 && same)}`,
      );
    }
  } finally {
    await emu.stop();
  }
}

/** The mixed command files of scenario 4, from the same deterministic tenant the emulator generates. */
function fulfillFiles(users: number, rows: number, name: string): string[] {
  const store = new DirectoryStore({ tenantId: 't', domains: ['contoso.onmicrosoft.com'] });
  generateTenant(store, { users, groups: Math.max(10, Math.floor(users / 10)), seed: 4 });
  const userIds = store.entityStore('user').slots.map((o) => o!.id);
  const groupObjs = store.entityStore('group').slots.map((o) => o!);
  const d = out(name);
  const inserts = Math.floor(rows * 0.25);
  const updates = Math.floor(rows * 0.35);
  const adds = Math.floor(rows * 0.25);
  const removes = rows - inserts - updates - adds;
  const objects = [
    'Command,@odata.type,id,accountEnabled,displayName,mailNickname,passwordProfile,userPrincipalName,jobTitle',
  ];
  for (let i = 0; i < inserts; i++)
    objects.push(
      `insert,#microsoft.graph.user,,true,Bench User ${i},benchuser${i},"{""password"":""Bench-${i}-Pa55!"",""forceChangePasswordNextSignIn"":true}",benchuser${i}@contoso.onmicrosoft.com,`,
    );
  for (let i = 0; i < updates; i++)
    objects.push(`update,#microsoft.graph.user,${userIds[i % userIds.length]},,,,,,Title ${i}`);
  const links = ['Command,groupId,id'];
  let g = 0;
  for (let i = 0; i < adds; i++) {
    const group = groupObjs[g++ % groupObjs.length]!;
    const set = group.links!.members!;
    let k = (i * 7919) % userIds.length;
    while (set.has(userIds[k]!)) k = (k + 1) % userIds.length;
    links.push(`insert,${group.id},${userIds[k]}`);
  }
  let removed = 0;
  for (const group of groupObjs) {
    for (const member of group.links!.members!) {
      if (removed >= removes) break;
      links.push(`delete,${group.id},${member}`);
      removed++;
      break;
    }
    if (removed >= removes) break;
  }
  const files = [join(d, 'Bench_directoryobjects.csv'), join(d, 'Bench_members_group.csv')];
  writeFileSync(files[0]!, `${objects.join('\n')}\n`);
  writeFileSync(files[1]!, `${links.join('\n')}\n`);
  return files;
}

async function fulfillScenario(): Promise<void> {
  const users = num('fulfill-users');
  const rows = num('fulfill-rows');
  line(`\n## 4. Fulfill of ${fmt(rows)} mixed rows (25% creates, 35% updates, 25% member adds, 15% removes)`);
  const files = fulfillFiles(users, rows, 'fulfill');
  const tenant = { generate: { users, groups: Math.max(10, Math.floor(users / 10)), seed: 4 } };
  const count = (results: string, status: string) =>
    readFileSync(results, 'utf8')
      .split('\n')
      .filter((l) => l.includes(`,${status},`)).length;

  let emu = await startEmulatorProcess({ ...tenant, throttle: false }, dir, 'f1');
  let ours: Timed;
  try {
    ours = must(
      await timed(
        [
          ...ENTRA,
          'fulfill',
          ...files,
          '--settings',
          emu.settings,
          '--write-budget',
          'off',
          '--concurrency',
          '8',
          '--results',
          join(dir, 'ours4.csv'),
          '--quiet',
        ],
        env(emu.ca),
      ),
      'entra fulfill',
    );
  } finally {
    await emu.stop();
  }
  const rate = rows / (ours.ms / 1000);
  line(
    `entra fulfill:   ${fmt(rows)} rows in ${(ours.ms / 1000).toFixed(1)} s = ${fmt(rate)} rows/s (${count(join(dir, 'ours4.csv'), 'failed')} failed)`,
  );
  let base: Timed | undefined;
  if (baseline) {
    emu = await startEmulatorProcess({ ...tenant, throttle: false }, dir, 'f2');
    try {
      base = must(
        await timed([...BASE_FULFILL, emu.settings, join(dir, 'base4.csv'), ...files], env(emu.ca)),
        'baseline fulfill',
      );
    } finally {
      await emu.stop();
    }
    line(
      `baseline (SDK):  ${(base.ms / 1000).toFixed(1)} s = ${fmt(rows / (base.ms / 1000))} rows/s; ratio ${(base.ms / ours.ms).toFixed(2)}x`,
    );
  }
  line(`target ≥ 2,000 rows/s unthrottled: ${verdict(rate >= 2000)}`);
  row(
    '4. fulfill, no throttling',
    `${fmt(rows)} rows`,
    `${(ours.ms / 1000).toFixed(1)} s, ${fmt(rate)} rows/s`,
    base ? `${(base.ms / 1000).toFixed(1)} s` : '-',
    base ? `${(base.ms / ours.ms).toFixed(2)}x` : '-',
    `≥ 2,000 rows/s ${verdict(rate >= 2000)}`,
  );

  // With Graph's write budget on (scaled down so that the run takes seconds, not minutes).
  const [w, s] = String(values.budget).split('/').map(Number) as [number, number];
  const budgetRows = num('budget-rows');
  const bfiles = fulfillFiles(users, budgetRows, 'budget');
  const throttle = { enabled: true, writes: w, writeWindowMs: s * 1000, resourceUnits: 1_000_000 };
  emu = await startEmulatorProcess({ ...tenant, throttle }, dir, 'f3');
  let paced: Timed;
  try {
    paced = must(
      await timed(
        [
          ...ENTRA,
          'fulfill',
          ...bfiles,
          '--settings',
          emu.settings,
          '--write-budget',
          `${w}/${s}`,
          '--concurrency',
          '8',
          '--results',
          join(dir, 'ours4b.csv'),
        ],
        env(emu.ca),
      ),
      'entra fulfill (budget)',
    );
  } finally {
    await emu.stop();
  }
  const okRows = budgetRows - count(join(dir, 'ours4b.csv'), 'failed');
  const summary = /(\d+) throttled; ([\d.]+) s\s*$/m.exec(paced.stderr);
  const throttled = summary ? Number(summary[1]) : NaN;
  const seconds = summary ? Number(summary[2]) : paced.ms / 1000;
  const available = w + (w / s) * seconds;
  const used = Math.min(1, okRows / available);
  line(
    `entra fulfill, budget ${w} writes / ${s} s: ${fmt(budgetRows)} rows in ${seconds.toFixed(1)} s; budget used ${(used * 100).toFixed(1)}%, ${throttled} 429s, ${budgetRows - okRows} failed rows`,
  );
  let bused: number | undefined;
  if (baseline) {
    emu = await startEmulatorProcess({ ...tenant, throttle }, dir, 'f4');
    try {
      const b = must(
        await timed([...BASE_FULFILL, emu.settings, join(dir, 'base4b.csv'), ...bfiles], env(emu.ca)),
        'baseline fulfill (budget)',
      );
      const bok = JSON.parse(b.stdout.trim().split('\n').pop()!).ok as number;
      bused = Math.min(1, bok / (w + (w / s) * (b.ms / 1000)));
      line(
        `baseline (SDK), same budget: ${(b.ms / 1000).toFixed(1)} s; budget used ${(bused * 100).toFixed(1)}%, ${budgetRows - bok} failed rows`,
      );
    } finally {
      await emu.stop();
    }
  }
  const pass = used >= 0.95 && okRows === budgetRows;
  line(`target ≥ 95% of the budget with zero failed rows: ${verdict(pass)}`);
  row(
    `4. fulfill, write budget ${w}/${s} s`,
    `${fmt(budgetRows)} rows`,
    `${(used * 100).toFixed(1)}% of budget, ${throttled} 429s, ${budgetRows - okRows} failed`,
    bused !== undefined ? `${(bused * 100).toFixed(1)}% of budget` : '-',
    '-',
    `≥ 95%, 0 failed ${verdict(pass)}`,
  );
}

/** `+1.5` or `-0.3`: a difference with its sign. */
function signed(x: number, digits: number): string {
  return `${x < 0 ? '-' : '+'}${Math.abs(x).toFixed(digits)}`;
}

/** 5. `--diff`: what the snapshot costs, on disk and in time, at a large tenant. */
async function diffScenario(): Promise<void> {
  const users = num('diff-users');
  const groups = Math.floor(users / 10);
  line(`\n## 5. --diff: the snapshot of ${fmt(users)} users, ${fmt(groups)} groups`);
  const emu = await startEmulatorProcess(
    { generate: { users, groups, seed: 1 }, throttle: false },
    dir,
    'diff',
  );
  line(`emulator ready in ${(emu.readyMs / 1000).toFixed(1)} s`);
  try {
    const plain = must(
      await timed(entraExport(emu, 'd-plain', out('d-plain-cookies'), '--ignore-cookies'), env(emu.ca)),
      'entra export',
    );
    const cookies = out('d-diff-cookies');
    const first = must(
      await timed(entraExport(emu, 'd-first', cookies, '--diff'), env(emu.ca)),
      'entra export --diff',
    );
    const rows = countRows(join(dir, 'd-first'));
    const file = join(cookies, 'Bench_snapshot.sqlite');
    const mb = statSync(file).size / 1024 / 1024;
    // A complete round against the full snapshot: every object looked up, nothing changed.
    const again = must(
      await timed(
        entraExport(emu, 'd-again', cookies, '--diff', '--ignore-cookies', '--advance-cookies'),
        env(emu.ca),
      ),
      'entra export --diff --ignore-cookies',
    );
    const againRows = countRows(join(dir, 'd-again'));
    const s = (t: Timed) => `${(t.ms / 1000).toFixed(1)} s`;
    line(
      `entra export (complete, no --diff):           ${fmt(rows)} rows in ${s(plain)}, peak RSS ${fmt(plain.peakRssMb)} MB`,
    );
    line(
      `entra export --diff, first (empty snapshot):   ${s(first)} (${signed(((first.ms - plain.ms) / plain.ms) * 100, 0)}%), peak RSS ${fmt(first.peakRssMb)} MB`,
    );
    line(
      `entra export --diff, complete round again:     ${s(again)} (${signed(((again.ms - plain.ms) / plain.ms) * 100, 0)}%), ${fmt(againRows)} rows (nothing changed), peak RSS ${fmt(again.peakRssMb)} MB`,
    );
    line(
      `snapshot on disk: ${mb.toFixed(0)} MB (${((mb * 1024 * 1024) / rows).toFixed(0)} bytes per exported row)`,
    );
    row(
      '5. --diff, complete round',
      `${fmt(users)} users, ${fmt(rows)} rows`,
      `${signed((again.ms - plain.ms) / 1000, 1)} s over ${s(plain)} (first --diff run ${signed((first.ms - plain.ms) / 1000, 1)} s); snapshot ${mb.toFixed(0)} MB; ${fmt(again.peakRssMb)} MB RSS`,
      '-',
      '-',
      `0 rows when nothing changed ${verdict(againRows === 0)}`,
    );
  } finally {
    await emu.stop();
  }
}

try {
  if (only.has('1') || only.has('3')) await exportScenarios();
  if (only.has('2')) await latencyScenario();
  if (only.has('4')) await fulfillScenario();
  if (only.has('5')) await diffScenario();
  if (only.has('6'))
    await memoryScenario(
      ctx,
      String(values['mem-users']).split(',').map(Number),
      Number(values['mem-groups-per-user']),
      String(values['mem-flags']).split(' ').filter(Boolean),
    );
  if (only.has('7')) {
    const [lo, hi] = String(values['graph-latency']).split('-').map(Number) as [number, number?];
    await graphLikeScenario(
      ctx,
      num('graph-users'),
      num('graph-groups'),
      { fixedMs: lo, jitterMs: (hi ?? lo) - lo },
      String(values['graph-flags']).split(' ').filter(Boolean),
    );
  }
  if (only.has('8')) await cpuScenario(ctx, num('cpu-users'), num('cpu-groups'));
  line('\n## Summary (for the README)\n');
  line('| scenario | size | entra-connector | baseline (Graph SDK) | ratio | target |');
  line('| --- | --- | --- | --- | --- | --- |');
  for (const r of results) line(r);
} finally {
  const file = values.json ?? join(ROOT, 'bench', 'results', `${json.started.replace(/[:.]/g, '-')}.json`);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify({ ...json, loadAtEnd: loadavg() }, null, 2)}\n`);
  line(`\nfigures written to ${file}`);
  if (!values.keep) rmSync(dir, { recursive: true, force: true });
}
