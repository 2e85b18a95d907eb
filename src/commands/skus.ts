import { stringify } from 'csv-stringify/sync';
import { ToolError } from '../errors.js';
import { graphErrorOf } from '../graph/graph-error.js';
import { readCaFile } from '../settings/ca-file.js';
import { connect, settingsLayers } from './connection.js';
import { stderrLogger, type CommonOptions } from './process-io.js';

export interface SkusArgs extends CommonOptions {
  settings?: string;
  setting?: string[];
  connection?: string;
  ca?: string;
  format?: 'csv' | 'ndjson';
}

const COLUMNS = ['skuId', 'skuPartNumber', 'enabled', 'consumedUnits', 'capabilityStatus'] as const;

interface SubscribedSku {
  skuId?: string;
  skuPartNumber?: string;
  capabilityStatus?: string;
  consumedUnits?: number;
  prepaidUnits?: { enabled?: number };
}

/**
 * `entra skus`: the tenant's subscriptions (`GET /subscribedSkus`, Organization.Read.All), one row
 * each on stdout: `skuId,skuPartNumber,enabled,consumedUnits,capabilityStatus`, so that a licence's
 * skuId in an export maps to the name used in fulfill cells, and seats left can be checked first.
 */
export async function skusCommand(
  args: SkusArgs,
  env: NodeJS.ProcessEnv = process.env,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const log = stderrLogger(args);
  const ca = args.ca ? await readCaFile(args.ca) : undefined;
  const { layers, file } = await settingsLayers(args, env, { logger: log, ...(ca ? { ca } : {}) });
  const { client } = connect(layers, {
    ...(args.connection ? { connection: args.connection } : {}),
    ...(ca ? { ca } : {}),
    logger: log,
    settingsFile: file,
    env,
  });
  try {
    const r = await client.get<{ value?: SubscribedSku[] }>('subscribedSkus', { throwHttpErrors: false });
    if (r.status !== 200 || !Array.isArray(r.body?.value)) {
      const e = graphErrorOf(r.body);
      throw new ToolError(
        'ERR_GRAPH_HTTP',
        `GET /subscribedSkus answered ${r.status}${e.code ? ` ${e.code}` : ''}${e.message ? `: ${e.message}` : ''}` +
          (r.status === 403 ? ' (the app needs Organization.Read.All)' : ''),
      );
    }
    const rows = r.body.value.map((s) => ({
      skuId: s.skuId ?? null,
      skuPartNumber: s.skuPartNumber ?? null,
      enabled: s.prepaidUnits?.enabled ?? null,
      consumedUnits: s.consumedUnits ?? null,
      capabilityStatus: s.capabilityStatus ?? null,
    }));
    out.write(
      args.format === 'ndjson'
        ? rows.map((row) => `${JSON.stringify(row)}\n`).join('')
        : stringify(rows, { header: true, columns: [...COLUMNS], record_delimiter: '\n' }),
    );
    return 0;
  } finally {
    client.close();
  }
}
