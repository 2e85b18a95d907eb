import type { EntityName } from '../graph/schema.js';
import { errors, graphError } from './graph-error.js';
import { JsonText, type EmuRequest, type EmuResponse } from './http-types.js';
import { LinkList, LinkRun, PageWriter } from './page-writer.js';
import { renderObject, resolveSelect, untrackedProperties } from './render.js';
import type { TokenCodec } from './state-token.js';
import type { ChangeEntry, DirectoryStore, StoredObject } from './store.js';

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
  o: number; // slot index, or index in `f` ('i'); log index ('d'); -1 = derive from q
  k?: number; // navigation index inside the current object or log entry
  m?: number; // link offset inside that navigation
  u?: number; // serial of a deltaLink: two issued in the same millisecond still differ
}

let deltaLinks = 0;

/** One object in a page, with its `<nav>@delta` links. */
interface PageRecord {
  body: Record<string, unknown>;
  navs?: Map<string, LinkList | LinkRun>;
  removed?: boolean;
}

const SYNC_STATE_NOT_FOUND =
  'The sync-state generation is not found. The delta token is expired and data must be synchronized again.';
const JSON_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';

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
    // The token carries the query: options are given on the first request only (delta-query-overview.md).
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
  const latest = q.get('$deltatoken') === 'latest';
  return {
    n: ctx.instance,
    g: ctx.store.generation,
    e: entity,
    s: sel.selection.explicit ? sel.selection.props : null,
    l: sel.selection.navs,
    f: ids,
    t: ctx.now(),
    p: latest ? 'd' : 'i',
    q: ctx.store.seq,
    o: latest ? -1 : 0,
  };
}

/** `id eq '...' or id eq '...'`: the only filter users/groups delta supports. */
function parseIdFilter(filter: string): string[] | null {
  const ids: string[] = [];
  for (const part of filter.split(/\s+or\s+/i)) {
    const m = /^\s*\(?\s*id\s+eq\s+'([0-9a-fA-F-]{36})'\s*\)?\s*$/.exec(part);
    if (!m) return null;
    ids.push(m[1]!.toLowerCase());
  }
  return [...new Set(ids)];
}

function buildPage(
  state: DeltaState,
  minimal: boolean,
  ctx: DeltaContext,
): { records: PageRecord[]; next: DeltaState | undefined } {
  const { store, limits } = ctx;
  const es = store.entityStore(state.e);
  const props = propsOf(state);
  const s = { ...state };
  const records: PageRecord[] = [];
  const budget = { links: limits.links, scanned: 0 };

  if (s.p === 'i') {
    const ids = s.f;
    const end = ids ? ids.length : es.slots.length;
    while (s.o < end && records.length < limits.objects && budget.links > 0 && budget.scanned < limits.scan) {
      budget.scanned++;
      const o = ids ? store.get(ids[s.o]!) : es.slots[s.o];
      if (!o || o.deletedAt || o.entity !== s.e) {
        // Gone since the last page, maybe half way through its links: the next object starts afresh.
        s.o++;
        delete s.k;
        delete s.m;
        continue;
      }
      const rec: PageRecord = { body: renderObject(o, props, { nulls: false }) };
      records.push(rec);
      // A group with more links than fit is repeated on the next page with the next slice.
      if (!walkLinks(rec, o, s, budget, store.softDeleted)) break;
      s.o++;
    }
    if (s.o >= end) {
      s.p = 'd';
      s.o = -1;
    }
  }

  const out = new Map<string, PageRecord>();
  if (s.p === 'd') {
    if (s.o < 0) s.o = es.logPositionAfter(s.q);
    const tracked = state.s ? new Set(state.s) : null;
    const untracked = untrackedProperties(state.e);
    const only = state.f ? new Set(state.f) : null;
    while (
      s.o < es.log.length &&
      records.length + out.size < limits.objects &&
      budget.links > 0 &&
      budget.scanned < limits.scan
    ) {
      const entry = es.log[s.o]!;
      budget.scanned++;
      if (
        !(only && !only.has(entry.id)) &&
        !replay(entry, out, s, budget, props, tracked, untracked, minimal, ctx)
      )
        break;
      s.o++;
      delete s.k;
      delete s.m;
    }
    if (s.o >= es.log.length) return { records: [...records, ...out.values()], next: undefined };
  }
  return { records: [...records, ...out.values()], next: s };
}

/**
 * Adds an object's current links to its record, from the cursor in `s` on, within the page's link
 * budget. Returns false, with the cursor where it stopped, when the budget ran out first.
 */
function walkLinks(
  rec: PageRecord,
  o: StoredObject,
  s: DeltaState,
  budget: { links: number },
  hidden: Set<string>,
): boolean {
  const skipHidden = hidden.size > 0;
  for (let k = s.k ?? 0; k < s.l.length; k++) {
    const nav = s.l[k]!;
    const set = o.links?.[nav];
    if (!set) continue;
    let items: LinkRun | undefined;
    for (let m = k === s.k ? (s.m ?? 0) : 0; m < set.length; m++) {
      const id = set.at(m);
      if (id === null || (skipHidden && hidden.has(id))) continue;
      if (budget.links <= 0) {
        s.k = k;
        s.m = m;
        return false;
      }
      if (!items) {
        rec.navs ??= new Map();
        rec.navs.set(nav, (items = new LinkRun(set)));
      }
      items.offsets.push(m);
      budget.links--;
    }
  }
  delete s.k;
  delete s.m;
  return true;
}

/**
 * Replays one change-log entry into the page. Returns false when the entry's links did not all fit:
 * the cursor in `s` says where to go on, on the next page.
 */
function replay(
  entry: ChangeEntry,
  out: Map<string, PageRecord>,
  s: DeltaState,
  budget: { links: number },
  props: string[],
  tracked: Set<string> | null,
  untracked: Set<string>,
  minimal: boolean,
  ctx: DeltaContext,
): boolean {
  const { store } = ctx;
  if (entry.kind === 'delete') {
    out.delete(entry.id);
    out.set(entry.id, { body: { id: entry.id, '@removed': { reason: entry.reason } }, removed: true });
    return true;
  }
  const current = store.get(entry.id);
  // Changes to an object deleted since are covered by its delete entry.
  if (!current) return true;
  if (entry.kind === 'upsert') {
    if (entry.props) {
      // Only tracked properties put an object in a delta page: the selected ones, or without $select
      // those of the main directory store (delta-query-overview.md). A write that changed nothing is
      // replayed when nothing in particular is tracked.
      const relevant =
        entry.props.length === 0
          ? !tracked
          : entry.props.some((p) => (!tracked || tracked.has(p)) && !untracked.has(p));
      if (!relevant) return true;
    }
    let rec = out.get(entry.id);
    if (!rec || rec.removed) {
      out.delete(entry.id);
      rec = { body: base(current, props, minimal, entry.props) };
      out.set(entry.id, rec);
    } else if (minimal) Object.assign(rec.body, base(current, entry.props ?? props, true, entry.props));
    // Created or restored: every current link is news to the client, a large group's over several pages.
    if (entry.props === null) return replayLinks(rec, current, s, budget, store.softDeleted);
    return true;
  }
  if (!s.l.includes(entry.nav)) return true;
  let rec = out.get(entry.id);
  if (!rec || rec.removed) {
    out.delete(entry.id);
    rec = { body: minimal ? { id: current.id } : renderObject(current, props, { nulls: false }) };
    out.set(entry.id, rec);
  }
  linksOf(rec, entry.nav).set(entry.target, store.entityOf(entry.target) ?? 'user', entry.removed);
  budget.links--;
  return true;
}

function replayLinks(
  rec: PageRecord,
  o: StoredObject,
  s: DeltaState,
  budget: { links: number },
  hidden: Set<string>,
): boolean {
  for (let k = s.k ?? 0; k < s.l.length; k++) {
    const nav = s.l[k]!;
    const set = o.links?.[nav];
    if (!set) continue;
    for (let m = k === s.k ? (s.m ?? 0) : 0; m < set.length; m++) {
      const id = set.at(m);
      if (id === null || hidden.has(id)) continue;
      if (budget.links <= 0) {
        s.k = k;
        s.m = m;
        return false;
      }
      linksOf(rec, nav).set(id, set.kindAt(m) ?? 'user', false);
      budget.links--;
    }
  }
  return true;
}

function linksOf(rec: PageRecord, nav: string): LinkList {
  rec.navs ??= new Map();
  const items = rec.navs.get(nav);
  if (items instanceof LinkList) return items;
  const list = new LinkList();
  rec.navs.set(nav, list);
  return list;
}

const DEFAULT_PROPS = new Map<EntityName, string[]>();
function propsOf(state: DeltaState): string[] {
  if (state.s) return state.s;
  let props = DEFAULT_PROPS.get(state.e);
  if (!props) {
    const r = resolveSelect(state.e, null, true);
    props = r.ok ? r.selection.props : ['id'];
    DEFAULT_PROPS.set(state.e, props);
  }
  return props;
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
  for (const p of changed) if (p !== 'id' && props.includes(p)) body[p] = o.data[p] ?? null;
  body.id = o.id;
  return body;
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
  const root = collectionUrl.slice(0, collectionUrl.lastIndexOf('/'));
  const name = collectionUrl.slice(collectionUrl.lastIndexOf('/') + 1);
  // The first page names the selection; later pages may not (delta-query-users.md).
  const first = !req.url.searchParams.has('$skiptoken') && !req.url.searchParams.has('$deltatoken');
  const selected = first ? req.url.searchParams.get('$select') : null;
  const context = `${root}/$metadata#${name}${selected ? `(${selected})` : ''}`;
  let link: string;
  if (next)
    link = `,"@odata.nextLink":${JSON.stringify(`${collectionUrl}/delta?$skiptoken=${ctx.codec.encode(next)}`)}`;
  else {
    const done: DeltaState = { ...state, p: 'd', q: ctx.store.seq, o: -1, t: ctx.now(), u: ++deltaLinks };
    delete done.k;
    delete done.m;
    link = `,"@odata.deltaLink":${JSON.stringify(`${collectionUrl}/delta?$deltatoken=${ctx.codec.encode(done)}`)}`;
  }
  const out = new PageWriter(256 + context.length + link.length);
  out.ascii('{"@odata.context":');
  out.text(JSON.stringify(context));
  out.text(link);
  out.ascii(',"value":');
  if (!records.some((r) => r.navs)) out.text(JSON.stringify(records.map((r) => r.body)));
  else {
    out.ascii('[');
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!;
      const json = JSON.stringify(r.body);
      if (i > 0) out.ascii(',');
      if (!r.navs) {
        out.text(json);
        continue;
      }
      out.text(json.slice(0, -1));
      for (const [nav, items] of r.navs) {
        out.ascii(',');
        out.links(nav, items);
      }
      out.ascii('}');
    }
    out.ascii(']');
  }
  out.ascii('}');
  const headers: Record<string, string> = { 'content-type': JSON_TYPE };
  if (minimal) headers['preference-applied'] = 'return=minimal';
  const { bytes, release } = out.done();
  return { status: 200, headers, body: new JsonText(bytes, release) };
}

/** 410 Gone with a Location that restarts the round from scratch (delta-query-overview.md, "Synchronization reset"). */
function resetResponse(req: EmuRequest, state: DeltaState, collectionUrl: string): EmuResponse {
  const params: string[] = [];
  if (state.s) params.push(`$select=${encodeURIComponent([...state.s, ...state.l].join(','))}`);
  if (state.f)
    params.push(`$filter=${encodeURIComponent(state.f.map((id) => `id eq '${id}'`).join(' or '))}`);
  params.push('$deltatoken=');
  return graphError(
    req,
    410,
    'resyncRequired',
    "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the service was up to date with your local changes when you last sync'd. Upload any local changes that the server doesn't know about.",
    { location: `${collectionUrl}/delta?${params.join('&')}` },
  );
}
