import type { GraphClient } from '../graph/client.js';
import { graphErrorOf } from '../graph/graph-error.js';
import { skuTable, type SkuTable } from './license-request.js';

/**
 * The tenant's SKUs (`GET /subscribedSkus`, Organization.Read.All), for the skuPartNumbers of licence
 * cells. A refusal is not fatal: rows that name licences by skuId still run, rows naming a
 * skuPartNumber fail with the reason.
 */
export async function readSkus(client: GraphClient): Promise<SkuTable> {
  const r = await client.get<{ value?: { skuId?: unknown; skuPartNumber?: unknown }[] }>(
    'subscribedSkus?$select=skuId,skuPartNumber',
    { throwHttpErrors: false },
  );
  if (r.status === 200 && Array.isArray(r.body?.value)) return skuTable(r.body.value);
  const e = graphErrorOf(r.body);
  return {
    byPart: new Map(),
    names: new Map(),
    error: `GET /subscribedSkus answered ${r.status}${e.code ? ` ${e.code}` : ''}${e.message ? `: ${e.message}` : ''}${r.status === 403 ? ' (the app needs Organization.Read.All)' : ''}`,
  };
}
