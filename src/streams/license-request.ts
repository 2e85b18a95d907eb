import type { NextStep, PlannedRequest, StepAnswer } from '../types.js';

/**
 * Licences in command rows (user-assignlicense.md). A user's `assignedLicenses` cell says either the
 * whole set of licences the user must hold (a JSON array, the export's own form, or `null` for none),
 * or changes to make (a JSON object `{"add": [...], "remove": [...]}`). Each licence is a skuId, a
 * skuPartNumber (`"ENTERPRISEPACK"`), or an object `{"skuId"|"skuPartNumber": ..., "disabledPlans": [...]}`.
 * A row reads the current assignment first (`GET /users/{id}?$select=assignedLicenses,licenseAssignmentStates`)
 * and sends one `POST /users/{id}/assignLicense` with what differs; nothing differing is `skipped`.
 */

/** One licence a cell names: a skuId or a skuPartNumber, with the plans to disable when given. */
export interface LicenceRef {
  sku: string;
  disabledPlans?: string[];
}

/** What an `assignedLicenses` cell asks for. */
export interface LicenceChange {
  /** `set`: exactly these licences (others are removed); `change`: add and remove only these. */
  mode: 'set' | 'change';
  add: LicenceRef[];
  remove: LicenceRef[];
}

/** The tenant's SKUs by lower-cased skuPartNumber, read once per run (`GET /subscribedSkus`); or why not. */
export interface SkuTable {
  byPart: Map<string, string>;
  /** skuId → skuPartNumber, for messages. */
  names: Map<string, string>;
  /** Set when the SKUs could not be read: rows naming a skuPartNumber fail with it. */
  error?: string;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A SKU table from `GET /subscribedSkus`'s `value`. */
export function skuTable(value: { skuId?: unknown; skuPartNumber?: unknown }[]): SkuTable {
  const byPart = new Map<string, string>();
  const names = new Map<string, string>();
  for (const s of value)
    if (typeof s.skuId === 'string' && typeof s.skuPartNumber === 'string') {
      byPart.set(s.skuPartNumber.toLowerCase(), s.skuId.toLowerCase());
      names.set(s.skuId.toLowerCase(), s.skuPartNumber);
    }
  return { byPart, names };
}

function ref(entry: unknown, where: string): LicenceRef | string {
  if (typeof entry === 'string') return entry.trim() ? { sku: entry.trim() } : `${where}: an empty licence`;
  if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
    const o = entry as Record<string, unknown>;
    const sku = o.skuId ?? o.skuPartNumber;
    if (typeof sku !== 'string' || !sku.trim())
      return `${where}: a licence object needs a skuId or a skuPartNumber`;
    const extra = Object.keys(o).find((k) => !['skuId', 'skuPartNumber', 'disabledPlans'].includes(k));
    if (extra) return `${where}: unknown key ${JSON.stringify(extra)} (skuId, skuPartNumber, disabledPlans)`;
    if (o.disabledPlans === undefined || o.disabledPlans === null) return { sku: sku.trim() };
    if (
      !Array.isArray(o.disabledPlans) ||
      !o.disabledPlans.every((p) => typeof p === 'string' && GUID.test(p))
    )
      return `${where}: disabledPlans must be an array of servicePlanId GUIDs`;
    return { sku: sku.trim(), disabledPlans: o.disabledPlans.map((p: string) => p.toLowerCase()) };
  }
  return `${where}: a licence is a skuId, a skuPartNumber or {"skuId": ..., "disabledPlans": [...]}`;
}

function refs(list: unknown, where: string): LicenceRef[] | string {
  if (!Array.isArray(list)) return `${where} must be a JSON array of licences`;
  const out: LicenceRef[] = [];
  for (const [i, entry] of list.entries()) {
    const r = ref(entry, `${where}[${i}]`);
    if (typeof r === 'string') return r;
    out.push(r);
  }
  return out;
}

/**
 * An `assignedLicenses` cell → what it asks for, or the reason it cannot be read. `null` and `[]` are
 * the empty whole set (every licence removed).
 */
export function parseLicenceCell(
  cell: string,
): { ok: true; value: LicenceChange } | { ok: false; message: string } {
  const fail = (why: string) => ({ ok: false as const, message: `column assignedLicenses: ${why}` });
  let parsed: unknown;
  try {
    parsed = JSON.parse(cell);
  } catch {
    return fail(
      'expected JSON: an array (the whole set, e.g. ["ENTERPRISEPACK"]) or {"add": [...], "remove": [...]}',
    );
  }
  if (parsed === null) return { ok: true, value: { mode: 'set', add: [], remove: [] } };
  if (Array.isArray(parsed)) {
    const add = refs(parsed, 'the whole set');
    return typeof add === 'string' ? fail(add) : { ok: true, value: { mode: 'set', add, remove: [] } };
  }
  if (parsed && typeof parsed === 'object') {
    const o = parsed as Record<string, unknown>;
    const extra = Object.keys(o).find((k) => k !== 'add' && k !== 'remove');
    if (extra) return fail(`unknown key ${JSON.stringify(extra)}: a change has only "add" and "remove"`);
    const add = refs(o.add ?? [], 'add');
    if (typeof add === 'string') return fail(add);
    const remove = refs(o.remove ?? [], 'remove');
    if (typeof remove === 'string') return fail(remove);
    if (!add.length && !remove.length) return fail('a change with nothing to add or remove');
    const both = add.find((a) => remove.some((r) => r.sku.toLowerCase() === a.sku.toLowerCase()));
    if (both) return fail(`${both.sku} is both added and removed`);
    return { ok: true, value: { mode: 'change', add, remove } };
  }
  return fail('expected a JSON array (the whole set) or {"add": [...], "remove": [...]}');
}

/** A cell's licence → its skuId: a GUID as is, a skuPartNumber through the tenant's SKUs. */
function resolve(r: LicenceRef, skus: SkuTable | undefined): string | { error: string } {
  if (GUID.test(r.sku)) return r.sku.toLowerCase();
  if (!skus) return { error: `cannot resolve skuPartNumber ${r.sku}: the tenant's SKUs were not read` };
  if (skus.error) return { error: `cannot resolve skuPartNumber ${r.sku}: ${skus.error}` };
  const id = skus.byPart.get(r.sku.toLowerCase());
  if (id) return id;
  const known = [...skus.names.values()].join(', ');
  return { error: `unknown skuPartNumber ${r.sku}: the tenant's SKUs are ${known || 'none'} (entra skus)` };
}

interface Held {
  skuId: string;
  disabledPlans: string[];
}

const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((x) => b.includes(x));

/** The assignLicense body that turns `held` into what `change` asks, or why the row cannot. */
export function licenceDelta(
  held: Held[],
  groupOnly: Set<string>,
  change: LicenceChange,
  skus: SkuTable | undefined,
): { addLicenses: Held[]; removeLicenses: string[]; kept: string[] } | { error: string } {
  const addLicenses: Held[] = [];
  const removeLicenses: string[] = [];
  const kept: string[] = [];
  const wanted = new Set<string>();
  for (const r of change.add) {
    const id = resolve(r, skus);
    if (typeof id !== 'string') return id;
    wanted.add(id);
    const has = held.find((h) => h.skuId === id);
    // A licence named without disabledPlans keeps the plans it has; with them, they are set.
    if (!has || (r.disabledPlans && !sameSet(has.disabledPlans, r.disabledPlans)))
      addLicenses.push({ skuId: id, disabledPlans: r.disabledPlans ?? has?.disabledPlans ?? [] });
  }
  const drop =
    change.mode === 'set'
      ? held.map((h) => h.skuId).filter((id) => !wanted.has(id))
      : change.remove.map((r) => resolve(r, skus));
  for (const id of drop) {
    if (typeof id !== 'string') return id;
    if (!held.some((h) => h.skuId === id)) continue;
    // Graph refuses to remove a licence the user has only through a group (group-based licensing).
    if (groupOnly.has(id)) kept.push(id);
    else removeLicenses.push(id);
  }
  return { addLicenses, removeLicenses, kept };
}

/** The licences a read answer shows: held, and those held only through a group. */
function current(body: unknown): { held: Held[]; groupOnly: Set<string> } {
  const b = (body ?? {}) as { assignedLicenses?: unknown; licenseAssignmentStates?: unknown };
  const held = (Array.isArray(b.assignedLicenses) ? b.assignedLicenses : [])
    .filter((l): l is { skuId: string; disabledPlans?: unknown } => typeof l?.skuId === 'string')
    .map((l) => ({
      skuId: l.skuId.toLowerCase(),
      disabledPlans: Array.isArray(l.disabledPlans)
        ? l.disabledPlans.map((p) => String(p).toLowerCase())
        : [],
    }));
  const states = (Array.isArray(b.licenseAssignmentStates) ? b.licenseAssignmentStates : []) as {
    skuId?: string;
    assignedByGroup?: string | null;
  }[];
  const direct = new Set(states.filter((s) => !s.assignedByGroup).map((s) => s.skuId?.toLowerCase()));
  const groupOnly = new Set(
    states
      .filter((s) => s.assignedByGroup && s.skuId && !direct.has(s.skuId.toLowerCase()))
      .map((s) => s.skuId!.toLowerCase()),
  );
  return { held, groupOnly };
}

function describeChange(change: LicenceChange): string {
  const names = (list: LicenceRef[]) => JSON.stringify(list.map((r) => r.sku));
  return change.mode === 'set'
    ? `the whole set ${names(change.add)}`
    : `add ${names(change.add)}, remove ${names(change.remove)}`;
}

/**
 * The read-then-assign requests of a user row's `assignedLicenses` cell, holding the user's key
 * (`objectKey`), so rows of one user stay in order. `skus` resolves skuPartNumbers.
 */
export function licenceRequest(
  userId: string,
  objectKey: string,
  change: LicenceChange,
  skus: SkuTable | undefined,
): PlannedRequest {
  const user = encodeURIComponent(userId);
  const name = (id: string) => skus?.names.get(id) ?? id;
  const read: PlannedRequest = {
    method: 'GET',
    url: `/users/${user}?$select=assignedLicenses,licenseAssignmentStates`,
    objectKey,
    then: `POST /users/${user}/assignLicense with what differs from ${describeChange(change)}`,
    next: (answer: StepAnswer): NextStep | undefined => {
      // Another answer (404, 403...) is the row's outcome, with Graph's message.
      if (answer.status !== 200) return undefined;
      const { held, groupOnly } = current(answer.body);
      const delta = licenceDelta(held, groupOnly, change, skus);
      if ('error' in delta)
        return {
          outcome: {
            status: 'failed',
            errorCode: 'ERR_ROW_INVALID',
            message: `assignedLicenses: ${delta.error}`,
          },
        };
      const note = delta.kept.length
        ? `; kept ${delta.kept.map(name).join(', ')} (assigned through a group: remove it there)`
        : '';
      if (!delta.addLicenses.length && !delta.removeLicenses.length)
        return {
          outcome: {
            status: 'skipped',
            httpStatus: 200,
            message: `nothing to do: the licences of ${userId} are already so${note}`,
          },
        };
      const words = [
        delta.addLicenses.length ? `added ${delta.addLicenses.map((l) => name(l.skuId)).join(', ')}` : '',
        delta.removeLicenses.length ? `removed ${delta.removeLicenses.map(name).join(', ')}` : '',
      ].filter(Boolean);
      const write: PlannedRequest = {
        method: 'POST',
        url: `/users/${user}/assignLicense`,
        body: { addLicenses: delta.addLicenses, removeLicenses: delta.removeLicenses },
        headers: { 'Content-Type': 'application/json' },
        objectKey,
        retryFrom: read,
        next: (a: StepAnswer): NextStep | undefined =>
          a.status === 200
            ? { outcome: { status: 'ok', httpStatus: 200, message: `licences: ${words.join('; ')}${note}` } }
            : undefined,
      };
      return { request: write };
    },
  };
  return read;
}
