import { errors, parseBody } from './graph-error.js';
import type { EmuRequest, EmuResponse } from './http-types.js';
import { GUID } from './paths.js';
import { renderObject, resolveSelect } from './render.js';
import type { DirectoryStore, StoredObject } from './store.js';

/**
 * The tenant's subscriptions and licence assignment (subscribedsku-list.md, user-assignlicense.md):
 * `GET /subscribedSkus` with seat counts, `POST /users/{id}/assignLicense` with Graph's checks (a
 * usage location first, seats left, known SKUs), and the user's `assignedLicenses`, `assignedPlans`
 * and `licenseAssignmentStates` kept as Graph shows them.
 */
export interface Sku {
  skuId: string;
  skuPartNumber: string;
  /** Seats bought. */
  enabled: number;
  servicePlans: { servicePlanId: string; servicePlanName: string }[];
}

/** Subscriptions a tenant has when none are given: two of Microsoft's well-known SKUs (ids as published). */
export const DEFAULT_SKUS: Sku[] = [
  {
    skuId: '6fd2c87f-b296-42f0-b197-1e91e994b900',
    skuPartNumber: 'ENTERPRISEPACK',
    enabled: 25,
    servicePlans: [
      { servicePlanId: 'efb87545-963c-4e0d-99df-69c6916d9eb0', servicePlanName: 'EXCHANGE_S_ENTERPRISE' },
      { servicePlanId: '5dbe027f-2339-4123-9542-606e4d348a72', servicePlanName: 'SHAREPOINTENTERPRISE' },
    ],
  },
  {
    skuId: '078d2b04-f1bd-4111-bbd4-b4b1b354cef4',
    skuPartNumber: 'AAD_PREMIUM',
    enabled: 10,
    servicePlans: [{ servicePlanId: '41781fb2-bc02-4b7c-bd55-b576c07bb09d', servicePlanName: 'AAD_PREMIUM' }],
  },
];

interface AssignedLicense {
  skuId: string;
  disabledPlans: string[];
}

function assigned(user: StoredObject): AssignedLicense[] {
  return Array.isArray(user.data.assignedLicenses) ? (user.data.assignedLicenses as AssignedLicense[]) : [];
}

/** Seats of a SKU in use: users holding it. */
export function consumedUnits(store: DirectoryStore, skuId: string): number {
  let n = 0;
  for (const u of store.entityStore('user').slots)
    if (u && !u.deletedAt && assigned(u).some((l) => l.skuId === skuId)) n++;
  return n;
}

function renderSku(store: DirectoryStore, sku: Sku): Record<string, unknown> {
  return {
    accountId: store.tenantId,
    accountName: store.domains[0]!.split('.')[0],
    appliesTo: 'User',
    capabilityStatus: 'Enabled',
    consumedUnits: consumedUnits(store, sku.skuId),
    id: `${store.tenantId}_${sku.skuId}`,
    prepaidUnits: { enabled: sku.enabled, lockedOut: 0, suspended: 0, warning: 0 },
    servicePlans: sku.servicePlans.map((p) => ({ ...p, provisioningStatus: 'Success', appliesTo: 'User' })),
    skuId: sku.skuId,
    skuPartNumber: sku.skuPartNumber,
    subscriptionIds: [],
  };
}

/** `GET /subscribedSkus` and `GET /subscribedSkus/{id}`. */
export function handleSubscribedSkus(
  req: EmuRequest,
  id: string | undefined,
  root: string,
  store: DirectoryStore,
): EmuResponse {
  if (req.method !== 'GET') return errors.methodNotAllowed(req);
  if (id === undefined)
    return {
      status: 200,
      body: {
        '@odata.context': `${root}/$metadata#subscribedSkus`,
        value: store.skus.map((s) => renderSku(store, s)),
      },
    };
  const sku = store.skus.find(
    (s) => `${store.tenantId}_${s.skuId}` === id.toLowerCase() || s.skuId === id.toLowerCase(),
  );
  if (!sku) return errors.notFound(req, id);
  return {
    status: 200,
    body: { '@odata.context': `${root}/$metadata#subscribedSkus/$entity`, ...renderSku(store, sku) },
  };
}

/** The user's licence properties after an assignment: plans and states follow the licences. */
function licenceProperties(
  store: DirectoryStore,
  licenses: AssignedLicense[],
  now: string,
): Record<string, unknown> {
  const plans = licenses.flatMap((l) =>
    (store.skus.find((s) => s.skuId === l.skuId)?.servicePlans ?? [])
      .filter((p) => !l.disabledPlans.includes(p.servicePlanId))
      .map((p) => ({
        assignedDateTime: now,
        capabilityStatus: 'Enabled',
        service: p.servicePlanName,
        servicePlanId: p.servicePlanId,
      })),
  );
  return {
    assignedLicenses: licenses,
    assignedPlans: plans,
    licenseAssignmentStates: licenses.map((l) => ({
      assignedByGroup: null,
      disabledPlans: l.disabledPlans,
      error: 'None',
      lastUpdatedDateTime: now,
      skuId: l.skuId,
      state: 'Active',
    })),
  };
}

/**
 * `POST /users/{id}/assignLicense` with `{addLicenses: [{skuId, disabledPlans}], removeLicenses: [skuId]}`
 * → 200 and the user. Messages as the directory gives them (user-assignlicense.md, licensing error docs).
 */
export function handleAssignLicense(
  req: EmuRequest,
  user: StoredObject,
  root: string,
  store: DirectoryStore,
  now: () => number,
): EmuResponse {
  const parsed = parseBody(req);
  if ('response' in parsed) return parsed.response;
  const { addLicenses, removeLicenses } = parsed.body as { addLicenses?: unknown; removeLicenses?: unknown };
  if (!Array.isArray(addLicenses) || !Array.isArray(removeLicenses))
    return errors.badRequest(
      req,
      "Invalid value specified for property 'addLicenses' or 'removeLicenses' of resource 'User'.",
    );
  const adds: AssignedLicense[] = [];
  for (const a of addLicenses as { skuId?: unknown; disabledPlans?: unknown }[]) {
    const skuId = typeof a?.skuId === 'string' ? a.skuId.toLowerCase() : '';
    if (!GUID.test(skuId))
      return errors.badRequest(
        req,
        `Invalid value specified for property 'skuId' of resource 'AssignedLicense'.`,
      );
    if (!store.skus.some((s) => s.skuId === skuId))
      return errors.badRequest(req, `License ${skuId} does not correspond to a valid company License.`);
    const disabled = Array.isArray(a.disabledPlans)
      ? a.disabledPlans.map((p) => String(p).toLowerCase())
      : [];
    adds.push({ skuId, disabledPlans: disabled });
  }
  const removes = (removeLicenses as unknown[]).map((r) => String(r).toLowerCase());
  for (const r of removes)
    if (!assigned(user).some((l) => l.skuId === r))
      return errors.badRequest(req, `User does not have a corresponding license ${r}.`);
  if (adds.length && !user.data.usageLocation)
    return errors.badRequest(req, 'License assignment cannot be done for user with invalid usage location.');
  for (const a of adds) {
    const sku = store.skus.find((s) => s.skuId === a.skuId)!;
    const has = assigned(user).some((l) => l.skuId === a.skuId);
    if (!has && consumedUnits(store, a.skuId) >= sku.enabled)
      return errors.badRequest(req, `Subscription with SKU ${a.skuId} does not have any available licenses.`);
  }
  const kept = assigned(user).filter(
    (l) => !removes.includes(l.skuId) && !adds.some((a) => a.skuId === l.skuId),
  );
  const stamp = new Date(now()).toISOString().replace(/\.\d+Z$/, 'Z');
  store.update(user.id, licenceProperties(store, [...kept, ...adds], stamp));
  const r = resolveSelect('user', null, false);
  return {
    status: 200,
    body: {
      '@odata.context': `${root}/$metadata#users/$entity`,
      ...renderObject(user, r.ok ? r.selection.props : ['id'], { nulls: true }),
    },
  };
}

/** Sets licences without checks (tenant generator, tests): the same properties assignLicense writes. */
export function loadLicenses(
  store: DirectoryStore,
  user: StoredObject,
  skuIds: string[],
  stamp: string,
): void {
  Object.assign(
    user.data,
    licenceProperties(
      store,
      skuIds.map((skuId) => ({ skuId, disabledPlans: [] })),
      stamp,
    ),
  );
}
