import { entityInfo, type EntityName } from '../graph/schema.js';
import { errors, graphError } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { renderObject, resolveSelect } from './render.js';
import type { TokenCodec } from './state-token.js';
import type { DirectoryStore, StoredObject } from './store.js';

/** Limits of one delta page: Graph chooses page sizes itself and ignores `$top` (delta-query-overview.md). */
export interface DeltaLimits {
  /** Objects per page. */
  objects: number;
  /** Links (`members@delta` entries) per page: a large group is split over several pages, repeated. */
  links: number;
  /** Objects or log entries examined per page: a page may come back empty, with a nextLink. */
  scan: number;
}

export interface DeltaContext {
  store: DirectoryStore;
  codec: TokenCodec;
  /** Identifies this emulator process: its change log does not outlive it. */
  instance: string;
  now: () => number;
  limits: DeltaLimits;
  /** Lifetime of state tokens: 7 days for directory objects. */
  tokenLifetimeMs: number;
}

/** What a state token carries. Short keys keep URLs short. */
interface DeltaState {
  n: string; // emulator instance
  g: number; // tenant generation (synchronization resets)
  e: EntityName;
  s: string[] | null; // explicit $select (structural), or null for the default set
  l: string[]; // tracked navigations
  f: string[] | null; // $filter=id eq ... list
  t: number; // issued at (ms)
  p: 'i' | 'd'; // initial walk over current objects, or replay of the change log
  q: number; // 'i': sequence number when the round started; 'd': changes after this one
  o: number; // slot index ('i') or log index ('d'); -1 = derive from q
  k?: number; // navigation index inside the current object ('i')
  m?: number; // link offset inside that navigation ('i')
}

interface PageRecord {
  body: Record<string, unknown>;
  navs?: Map<string, Map<string, Record<string, unknown>>>;
  removed?: boolean;
}

const SYNC_STATE_NOT_FOUND =
  'The sync-state generation is not found. The delta token is expired and data must be synchronized again.';

/** Answers `GET /{collection}/delta` and its nextLink/deltaLink requests. */
export function handleDelta(
  req: EmuRequest,
  entity: EntityName,
  collectionUrl: string,
  ctx: DeltaContext,
): EmuResponse {
  const q = req.url.searchParams;
  const skip = q.get('$skiptoken');
  const delta = q.get('$deltatoken');
  const minimal = /return=minimal/i.test(String(req.headers.prefer ?? ''));
  let state: DeltaState;
  if (skip !== null || (delta !== null && delta !== '' && delta !== 'latest')) {
    if (q.has('$select') || q.has('$filter') || q.has('$expand'))
      return errors.unsupportedQuery(req, 'Query options cannot be combined with a state token.');
    const decoded = ctx.codec.decode<DeltaState>((skip ?? delta)!);
    if (!decoded || decoded.e !== entity) return errors.badRequest(req, 'The state token is malformed.');
    if (decoded.n !== ctx.instance || ctx.now() - decoded.t > ctx.tokenLifetimeMs)
      return graphError(req, 400, 'syncStateNotFound', SYNC_STATE_NOT_FOUND);
    if (decoded.g !== ctx.store.generation) return resetResponse(req, decoded, collectionUrl);
    state = decoded;
  } else {
    const initial = initialState(req, entity, ctx);
    if ('status' in initial) return initial;
    state = initial;
    if (delta === 'latest') return pageResponse(req, collectionUrl, ctx, state, [], undefined, minimal);
  }
  const { records, next } = buildPage(state, minimal, ctx);
  return pageResponse(req, collectionUrl, ctx, state, records, next, minimal);
}

function initialState(req: EmuRequest, entity: EntityName, ctx: DeltaContext): DeltaState | EmuResponse {
  const q = req.url.searchParams;
  if (q.has('$expand') || q.has('$orderby') || q.has('$search')) return errors.unsupportedQuery(req);
  const sel = resolveSelect(entity, q.get('$select'), true);
  if (!sel.ok) return graphError(req, sel.status, sel.code, sel.message);
  let ids: string[] | null = null;
  const filter = q.get('$filter');
  if (filter !== null) {
    ids = parseIdFilter(filter);
    if (!ids) return errors.unsupportedQuery(req);
    if (ids.length > 50)
      return errors.badRequest(req, 'The number of ids in the filter exceeds the limit of 50.');
  }
  return {
    n: ctx.instance,
    g: ctx.store.generation,
    e: entity,
    s: sel.selection.explicit ? sel.selection.props : null,
    l: sel.selection.navs,
    f: ids,
    t: ctx.now(),
    p: q.get('$deltatoken') === 'latest' ? 'd' : 'i',
    q: ctx.store.seq,
    o: q.get('$deltatoken') === 'latest' ? -1 : 0,
  };
}

/** `id eq '...' or id eq '...'`: the only filter users/groups delta supports. */
function parseIdFilter(filter: string): string[] | null {
  const ids: string[] = [];
  for (const part of filter.split(/\s+or\s+/i)) {
    const m = /^\s*id\s+eq\s+'([0-9a-fA-F-]{36})'\s*$/.exec(part);
    if (!m) return null;
    ids.push(m[1]!.toLowerCase());
  }
  return ids;
}

function buildPage(
  state: DeltaState,
  minimal: boolean,
  ctx: DeltaContext,
): { records: PageRecord[]; next: DeltaState | undefined } {
  const { store, limits } = ctx;
  const es = store.entityStore(state.e);
  const props = propsOf(state);
  const only = state.f ? new Set(state.f) : null;
  const out = new Map<string, PageRecord>();
  let links = 0;
  let scanned = 0;
  const s = { ...state };

  if (s.p === 'i') {
    while (
      s.o < es.slots.length &&
      out.size < limits.objects &&
      links < limits.links &&
      scanned < limits.scan
    ) {
      const o = es.slots[s.o];
      scanned++;
      if (!o || o.deletedAt || (only && !only.has(o.id))) {
        s.o++;
        continue;
      }
      const rec: PageRecord = { body: renderObject(o, props, { nulls: false }) };
      let full = false;
      for (let k = s.k ?? 0; k < s.l.length; k++) {
        const set = o.links?.[s.l[k]!];
        if (!set) continue;
        let m = k === s.k ? (s.m ?? 0) : 0;
        for (; m < set.length; m++) {
          if (links >= limits.links) {
            full = true;
            break;
          }
          const target = set.at(m);
          if (target === null) continue;
          const t = store.get(target);
          if (!t) continue;
          addLink(rec, s.l[k]!, target, t.entity, false);
          links++;
        }
        if (full) {
          s.k = k;
          s.m = m;
          break;
        }
      }
      // The same object repeated on the next page with the next slice of its links.
      out.set(`${o.id}#${s.o}#${s.k ?? 0}#${s.m ?? 0}`, rec);
      if (full) break;
      s.o++;
      delete s.k;
      delete s.m;
    }
    if (s.o >= es.slots.length) {
      s.p = 'd';
      s.o = -1;
    }
  }

  if (s.p === 'd') {
    if (s.o < 0) s.o = es.logPositionAfter(s.q);
    const tracked = state.s ? new Set(state.s) : null;
    while (
      s.o < es.log.length &&
      out.size < limits.objects &&
      links < limits.links &&
      scanned < limits.scan
    ) {
      const entry = es.log[s.o++]!;
      scanned++;
      if (only && !only.has(entry.id)) continue;
      const current = store.get(entry.id, { includeDeleted: true });
      if (entry.kind === 'delete') {
        out.set(entry.id, { body: { id: entry.id, '@removed': { reason: entry.reason } }, removed: true });
        continue;
      }
      // Changes to an object deleted since are covered by its delete entry.
      if (!current || current.deletedAt) continue;
      if (entry.kind === 'upsert') {
        if (entry.props && tracked && !entry.props.some((p) => tracked.has(p))) continue;
        let rec = out.get(entry.id);
        if (!rec || rec.removed) {
          rec = { body: base(current, props, minimal, entry.props) };
          out.set(entry.id, rec);
        } else if (minimal) Object.assign(rec.body, base(current, entry.props ?? props, true, entry.props));
        if (entry.props === null) {
          // Created or restored: every current link is news to the client.
          for (const nav of s.l)
            for (const t of store.linked(current, nav)) {
              addLink(rec, nav, t.id, t.entity, false);
              links++;
            }
        }
      } else {
        if (!s.l.includes(entry.nav)) continue;
        let rec = out.get(entry.id);
        if (!rec || rec.removed) {
          rec = { body: minimal ? { id: current.id } : renderObject(current, props, { nulls: false }) };
          out.set(entry.id, rec);
        }
        addLink(rec, entry.nav, entry.target, store.entityOf(entry.target) ?? 'user', entry.removed);
        links++;
      }
    }
    if (s.o >= es.log.length) return { records: [...out.values()], next: undefined };
  }
  return { records: [...out.values()], next: s };
}

function propsOf(state: DeltaState): string[] {
  if (state.s) return state.s;
  const r = resolveSelect(state.e, null, true);
  return r.ok ? r.selection.props : ['id'];
}

/** A changed object: everything selected, or with `Prefer: return=minimal` only what changed. */
function base(
  o: StoredObject,
  props: string[],
  minimal: boolean,
  changed: string[] | null,
): Record<string, unknown> {
  if (!minimal || changed === null) return renderObject(o, props, { nulls: false });
  const body: Record<string, unknown> = {};
  for (const p of changed) if (props.includes(p)) body[p] = o.data[p] ?? null;
  body.id = o.id;
  return body;
}

const ODATA_TYPES = new Map<EntityName, string>();
function odataType(entity: EntityName): string {
  let t = ODATA_TYPES.get(entity);
  if (!t) ODATA_TYPES.set(entity, (t = entityInfo(entity).odataType));
  return t;
}

function addLink(rec: PageRecord, nav: string, target: string, entity: EntityName, removed: boolean): void {
  rec.navs ??= new Map();
  let items = rec.navs.get(nav);
  if (!items) rec.navs.set(nav, (items = new Map()));
  const item: Record<string, unknown> = { '@odata.type': odataType(entity), id: target };
  // Graph reports removed links with reason "deleted" whether the link or the object went away.
  if (removed) item['@removed'] = { reason: 'deleted' };
  items.delete(target);
  items.set(target, item);
}

function pageResponse(
  req: EmuRequest,
  collectionUrl: string,
  ctx: DeltaContext,
  state: DeltaState,
  records: PageRecord[],
  next: DeltaState | undefined,
  minimal: boolean,
): EmuResponse {
  const value = records.map((r) => {
    if (!r.navs) return r.body;
    const body = { ...r.body };
    for (const [nav, items] of r.navs) body[`${nav}@delta`] = [...items.values()];
    return body;
  });
  const context =
    state.s && !req.url.searchParams.has('$skiptoken') && !req.url.searchParams.has('$deltatoken')
      ? `${collectionUrl.replace(/\/[^/]+$/, '')}/$metadata#${collectionName(collectionUrl)}(${state.s.join(',')})`
      : `${collectionUrl.replace(/\/[^/]+$/, '')}/$metadata#${collectionName(collectionUrl)}`;
  const body: Record<string, unknown> = { '@odata.context': context };
  if (next) body['@odata.nextLink'] = `${collectionUrl}/delta?$skiptoken=${ctx.codec.encode(next)}`;
  else {
    const done: DeltaState = { ...state, p: 'd', q: ctx.store.seq, o: -1, t: ctx.now() };
    delete done.k;
    delete done.m;
    body['@odata.deltaLink'] = `${collectionUrl}/delta?$deltatoken=${ctx.codec.encode(done)}`;
  }
  body.value = value;
  const headers: Record<string, string> = {};
  if (minimal) headers['preference-applied'] = 'return=minimal';
  return { status: 200, headers, body };
}

function collectionName(collectionUrl: string): string {
  return collectionUrl.slice(collectionUrl.lastIndexOf('/') + 1);
}

/** 410 Gone with a Location that restarts the round from scratch (delta-query-overview.md, "Synchronization reset"). */
function resetResponse(req: EmuRequest, state: DeltaState, collectionUrl: string): EmuResponse {
  const params: string[] = [];
  const select = [...(state.s ?? []), ...(state.s ? state.l : [])];
  if (state.s) params.push(`$select=${select.join(',')}`);
  if (state.f) params.push(`$filter=${state.f.map((id) => `id eq '${id}'`).join(' or ')}`);
  params.push('$deltatoken=');
  return graphError(
    req,
    410,
    'resyncRequired',
    "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
    {
      location: `${collectionUrl}/delta?${params.join('&')}`,
    },
  );
}
