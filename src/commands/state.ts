import { createHash } from 'node:crypto';
import { readdir, readFile, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { UsageError } from '../errors.js';
import { COOKIE_LIFETIME_MS, cookiePaths, readScheduledState } from '../sinks/cookie-file.js';
import { readRunRecords, type RunRecord } from '../sinks/run-record.js';
import { snapshotCounts, snapshotPath } from '../sinks/snapshot.js';
import { COOKIE_WARN_DAYS } from './export.js';
import type { CommonOptions } from './process-io.js';

export interface StateArgs extends CommonOptions {
  connection?: string;
  cookies?: string;
  json?: boolean;
}

/** One entity of a connection, as `entra state` reports it. */
export interface EntityState {
  entity: string;
  cookie?: {
    createdAt: string;
    ageDays: number;
    /** Days before Graph's 7-day limit; negative when past it (the next round is a complete one). */
    daysLeft: number;
    select: string;
    /** Older than the export's warning threshold (5 days). */
    old: boolean;
  };
  /** Objects of this entity in the snapshot, and whether the snapshot is in step with the cookie. */
  snapshot?: { objects: number; inStep: boolean };
}

export interface ConnectionState {
  connection: string;
  cookieDir: string;
  entities: EntityState[];
  lastRun?: RunRecord;
  lastCommittedRun?: RunRecord;
  snapshot?: {
    file: string;
    bytes: number;
    committedAt?: string;
    objects: Record<string, number>;
    links: Record<string, number>;
  };
}

const DAY_MS = 86_400_000;
const round1 = (n: number) => Math.round(n * 10) / 10;

/** The connections with state in `dir`: names of cookie sidecars, run records and snapshots. */
async function connectionsIn(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return [];
  }
  const found = new Set<string>();
  for (const name of names) {
    const m =
      /^(.+)_cookie_(?:user|group|directoryRole|servicePrincipal)\.json$/.exec(name) ??
      /^(.+)_(?:runs\.json|snapshot\.sqlite)$/.exec(name);
    if (m) found.add(m[1]!);
  }
  return [...found].sort();
}

/** What `entra state` says of one connection. */
export async function connectionState(
  cookieDir: string,
  connection: string,
  now = new Date(),
): Promise<ConnectionState> {
  const scheduled = await readScheduledState(cookieDir, connection);
  const file = snapshotPath(cookieDir, connection);
  const counts = snapshotCounts(file);
  const runs = await readRunRecords(cookieDir, connection);
  const entities = new Set<string>([
    ...(scheduled?.cookies.keys() ?? []),
    ...(counts?.rounds.map((r) => r.entity) ?? []),
  ]);
  const out: EntityState[] = [];
  for (const entity of [...entities].sort()) {
    const e: EntityState = { entity };
    const meta = scheduled?.cookies.get(entity);
    if (meta) {
      const age = (now.getTime() - Date.parse(meta.createdAt)) / DAY_MS;
      e.cookie = {
        createdAt: meta.createdAt,
        ageDays: round1(age),
        daysLeft: round1(COOKIE_LIFETIME_MS / DAY_MS - age),
        select: meta.select,
        old: age > COOKIE_WARN_DAYS,
      };
    }
    const r = counts?.rounds.find((x) => x.entity === entity);
    if (counts) {
      let inStep = false;
      if (r && meta && r.select === meta.select) {
        const link = await readFile(cookiePaths(cookieDir, connection, entity).bin, 'utf8').catch(() => '');
        inStep = createHash('sha256').update(link.trim()).digest('hex') === r.cookieSha256;
      }
      e.snapshot = { objects: counts.objects[entity] ?? 0, inStep };
    }
    out.push(e);
  }
  return {
    connection,
    cookieDir,
    entities: out,
    ...(runs.last ? { lastRun: runs.last } : {}),
    ...(runs.committed ? { lastCommittedRun: runs.committed } : {}),
    ...(counts
      ? {
          snapshot: {
            file,
            bytes: (await stat(file)).size,
            ...(counts.committedAt ? { committedAt: counts.committedAt } : {}),
            objects: counts.objects,
            links: counts.links,
          },
        }
      : {}),
  };
}

function describeRun(r: RunRecord): string {
  const modes = Object.entries(r.modes)
    .map(([e, m]) => `${e} ${m}`)
    .join(', ');
  const rows =
    Object.entries(r.rows)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ') || 'no rows';
  return `${r.endedAt}, exit ${r.exit}${r.error ? ` (${r.error})` : ''}${r.diff ? ', --diff' : ''}; ${modes || 'no round'}; ${rows}; ${r.pages} pages; output ${r.output}`;
}

/** Text lines of one connection's state. */
export function formatState(s: ConnectionState): string[] {
  const lines = [`${s.connection} (cookies in ${s.cookieDir})`];
  if (!s.entities.length) lines.push('  no cookies: the next export is a complete round');
  for (const e of s.entities) {
    const parts: string[] = [];
    if (e.cookie) {
      const c = e.cookie;
      parts.push(
        c.daysLeft <= 0
          ? `cookie ${c.ageDays} days old: expired, the next round is a complete one`
          : `cookie ${c.ageDays} days old, ${c.daysLeft} days left${c.old ? ' (warning: export soon)' : ''}`,
      );
      parts.push(`$select ${c.select}`);
    } else parts.push('no cookie');
    if (e.snapshot)
      parts.push(
        `snapshot ${e.snapshot.objects} objects${e.snapshot.inStep ? '' : ' (not in step with the cookie: the next --diff round is a complete one)'}`,
      );
    lines.push(`  ${e.entity}: ${parts.join('; ')}`);
  }
  if (s.snapshot) {
    const links =
      Object.entries(s.snapshot.links)
        .map(([t, n]) => `${t} ${n}`)
        .join(', ') || 'none';
    lines.push(
      `  snapshot: ${s.snapshot.file}, ${s.snapshot.bytes} bytes, committed ${s.snapshot.committedAt ?? '?'}; links: ${links}`,
    );
  } else lines.push('  snapshot: none (kept by export --diff)');
  lines.push(`  last run: ${s.lastRun ? describeRun(s.lastRun) : 'none recorded'}`);
  if (
    s.lastCommittedRun &&
    s.lastCommittedRun !== s.lastRun &&
    s.lastCommittedRun.endedAt !== s.lastRun?.endedAt
  )
    lines.push(`  last committed run: ${describeRun(s.lastCommittedRun)}`);
  return lines;
}

/**
 * `entra state`: what each connection's state holds (cookies, snapshot, last runs), read from the
 * cookie folder only: no settings, no token, no request. Exit 0; 2 for a connection with no state, or a
 * --cookies that is not a folder.
 */
export async function stateCommand(
  args: StateArgs,
  io: { stdout?: NodeJS.WritableStream } = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const dir = resolve(args.cookies ?? 'ExportCookies');
  // A folder named on the command line must be one: a typo would otherwise read as "no state yet".
  if (args.cookies !== undefined) {
    if (args.cookies === '') throw new UsageError('ERR_USAGE', '--cookies is empty: name the cookie folder');
    const found = await stat(dir).catch(() => undefined);
    if (!found) throw new UsageError('ERR_USAGE', `--cookies ${args.cookies}: no such folder`);
    if (!found.isDirectory())
      throw new UsageError('ERR_USAGE', `--cookies ${args.cookies}: not a folder: name the cookie folder`);
  }
  const all = await connectionsIn(dir);
  let names = all;
  if (args.connection !== undefined) {
    if (!all.includes(args.connection))
      throw new UsageError(
        'ERR_USAGE',
        `--connection ${args.connection}: no state in ${dir}${all.length ? ` (found: ${all.join(', ')})` : ''}`,
      );
    names = [args.connection];
  }
  const states: ConnectionState[] = [];
  for (const name of names) states.push(await connectionState(dir, name));
  if (args.json) stdout.write(`${JSON.stringify({ cookieDir: dir, connections: states }, null, 2)}\n`);
  else if (!states.length) stdout.write(`no connection has state in ${dir} yet\n`);
  else stdout.write(`${states.map((s) => formatState(s).join('\n')).join('\n\n')}\n`);
  return 0;
}
