import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import type { EntityName } from '../graph/schema.js';
import { writeTempFile } from './atomic-file.js';

/** Graph keeps directory delta tokens for 7 days (graph-protocol.md §1.8). */
export const COOKIE_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;
const VERSION = 1;

/** What the connector needs to know about a cookie before replaying it. */
export interface CookieSidecar {
  version: number;
  entity: string;
  /** ISO 8601. */
  createdAt: string;
  select: string;
  tenantId: string;
  graphUrl: string;
  /** Binds the sidecar to its `.bin`: a run killed between the two writes leaves a pair that does not match. */
  deltaLinkSha256: string;
  /** The whole run's entities and `$select`s ({@link mappingKey}): what the connection's scheduled run exports. */
  mapping?: string;
  /** Where the run's CSVs went: a folder, or `-` for stdout. */
  output?: string;
}

export type CookieStatus =
  { status: 'ok'; deltaLink: string } | { status: 'none' } | { status: 'unusable'; reason: string };

export interface CookieToWrite {
  entity: EntityName;
  deltaLink: string;
  select: string;
  tenantId: string;
  graphUrl: string;
  createdAt: Date;
  /** {@link mappingKey} of the run. */
  mapping?: string;
  /** The run's output folder, or `-`. */
  output?: string;
}

/** `<dir>/<connection>_cookie_<entity>.bin` (the deltaLink, UTF-8, nothing else) and its `.json` sidecar. */
export function cookiePaths(
  dir: string,
  connection: string,
  entity: string,
): { bin: string; sidecar: string } {
  const base = join(dir, `${connection}_cookie_${entity}`);
  return { bin: `${base}.bin`, sidecar: `${base}.json` };
}

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');
const sameUrl = (a: string, b: string): boolean =>
  a.replace(/\/+$/, '').toLowerCase() === b.replace(/\/+$/, '').toLowerCase();

/**
 * Reads an entity's cookie and says whether this run may replay it. `unusable` carries one human
 * line for the warning; the entity then falls back to a complete round.
 */
export async function readCookie(options: {
  dir: string;
  connection: string;
  entity: EntityName;
  select: string;
  tenantId: string;
  graphUrl: string;
  now: Date;
}): Promise<CookieStatus> {
  const { bin, sidecar } = cookiePaths(options.dir, options.connection, options.entity);
  const unusable = (reason: string): CookieStatus => ({ status: 'unusable', reason });
  let deltaLink: string;
  try {
    // Trimmed: a hand-edited file may have gained a final newline.
    deltaLink = (await readFile(bin, 'utf8')).trim();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? { status: 'none' } : unusable(`unreadable cookie ${bin}: ${code}`);
  }
  if (!deltaLink) return unusable(`empty cookie ${bin}`);
  if (!URL.canParse(deltaLink)) return unusable(`cookie ${bin} does not hold a URL`);

  let meta: Partial<CookieSidecar>;
  try {
    meta = JSON.parse(await readFile(sidecar, 'utf8')) as Partial<CookieSidecar>;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT')
      return unusable(
        `no sidecar ${sidecar}: cannot tell which $select, tenant and Graph URL it was made for`,
      );
    return unusable(`unreadable sidecar ${sidecar}: ${code ?? (error as Error).message}`);
  }
  if (typeof meta !== 'object' || meta === null)
    return unusable(`unreadable sidecar ${sidecar}: not a JSON object`);
  if (meta.version !== VERSION)
    return unusable(`sidecar ${sidecar} has format version ${meta.version}, expected ${VERSION}`);
  if (meta.deltaLinkSha256 !== sha256(deltaLink))
    return unusable(`cookie ${bin} and its sidecar do not match (a run was interrupted while writing them)`);
  const created = new Date(meta.createdAt ?? NaN);
  if (Number.isNaN(created.getTime())) return unusable(`unreadable sidecar ${sidecar}: bad createdAt`);
  if (typeof meta.tenantId !== 'string' || meta.tenantId.toLowerCase() !== options.tenantId.toLowerCase())
    return unusable(`made for another tenant (${meta.tenantId} → ${options.tenantId})`);
  if (typeof meta.graphUrl !== 'string' || !sameUrl(meta.graphUrl, options.graphUrl))
    return unusable(`made for another Graph URL (${meta.graphUrl} → ${options.graphUrl})`);
  if (meta.select !== options.select)
    return unusable(`made for another $select (${meta.select} → ${options.select})`);
  if (options.now.getTime() - created.getTime() > COOKIE_LIFETIME_MS)
    return unusable(`expired: older than 7 days (made ${created.toISOString()})`);
  return { status: 'ok', deltaLink };
}

/**
 * Writes the cookies of a finished run, each file atomically (temp, fsync, rename). Call it only once
 * every CSV is in place. Per entity the `.bin` goes first, then the sidecar that names its SHA-256:
 * a run killed in between leaves a new `.bin` with the old sidecar, which {@link readCookie} reports
 * as unusable (complete round, with a warning) rather than replaying a link under the wrong `$select`.
 */
export async function writeCookies(dir: string, connection: string, cookies: CookieToWrite[]): Promise<void> {
  for (const f of await stageCookies(dir, connection, cookies)) await rename(f.temp, f.final);
}

/**
 * Writes the cookies of a finished run under temp names (synced), for {@link commitStaged} to rename
 * into place together with the CSVs: per entity the `.bin` first, then the sidecar naming its SHA-256.
 */
export async function stageCookies(
  dir: string,
  connection: string,
  cookies: CookieToWrite[],
): Promise<{ temp: string; final: string }[]> {
  await mkdir(dir, { recursive: true });
  const staged: { temp: string; final: string }[] = [];
  for (const c of cookies) {
    const { bin, sidecar } = cookiePaths(dir, connection, c.entity);
    const meta: CookieSidecar = {
      version: VERSION,
      entity: c.entity,
      createdAt: c.createdAt.toISOString(),
      select: c.select,
      tenantId: c.tenantId,
      graphUrl: c.graphUrl,
      deltaLinkSha256: sha256(c.deltaLink.trim()),
      ...(c.mapping !== undefined ? { mapping: c.mapping } : {}),
      ...(c.output !== undefined ? { output: c.output } : {}),
    };
    staged.push({ temp: await writeTempFile(bin, c.deltaLink), final: bin });
    staged.push({ temp: await writeTempFile(sidecar, `${JSON.stringify(meta, null, 2)}\n`), final: sidecar });
  }
  return staged;
}

/** A run's entities and `$select`s as one string, e.g. `group=displayName,id,members;user=id,mail`. */
export function mappingKey(rounds: readonly { entity: string; select: string }[]): string {
  return rounds
    .map((r) => `${r.entity}=${r.select}`)
    .sort()
    .join(';');
}

/** What the cookies say about the connection's scheduled run: its mapping and output, per its newest sidecar. */
export interface ScheduledState {
  /** {@link mappingKey} of the run that wrote the newest cookie. */
  mapping: string;
  /** That run's output folder (`-` for stdout), when the sidecar says. */
  output?: string;
  /** Each entity's sidecar. */
  cookies: Map<string, CookieSidecar>;
}

/**
 * Reads every cookie sidecar of `connection` in `dir` (whatever their entity, valid or not): the state
 * of the connection's scheduled run, or undefined when it has none yet.
 */
export async function readScheduledState(
  dir: string,
  connection: string,
): Promise<ScheduledState | undefined> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return undefined;
  }
  const cookies = new Map<string, CookieSidecar>();
  const prefix = `${connection}_cookie_`;
  for (const name of names) {
    if (!name.startsWith(prefix) || !name.endsWith('.json')) continue;
    try {
      const meta = JSON.parse(await readFile(join(dir, name), 'utf8')) as CookieSidecar;
      if (meta && typeof meta === 'object' && typeof meta.select === 'string')
        cookies.set(name.slice(prefix.length, -'.json'.length), meta);
    } catch {
      // an unreadable sidecar is reported by readCookie when its entity runs
    }
  }
  if (!cookies.size) return undefined;
  const newest = [...cookies.values()].sort((a, b) => (a.createdAt < b.createdAt ? 1 : -1))[0]!;
  return {
    mapping: newest.mapping ?? mappingKey([...cookies].map(([entity, m]) => ({ entity, select: m.select }))),
    ...(newest.output !== undefined ? { output: newest.output } : {}),
    cookies,
  };
}
