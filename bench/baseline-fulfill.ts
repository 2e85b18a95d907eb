/**
 * The benchmark's baseline fulfill: command CSVs applied the straightforward way with the official
 * Microsoft Graph JavaScript SDK, one request at a time, in file order. Cells are typed the simple
 * way (true/false → boolean, JSON arrays and objects parsed), which is enough for the bench's files.
 *
 *   node --import tsx bench/baseline-fulfill.ts SETTINGS_JSON RESULTS_CSV FILE...
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { basename } from 'node:path';
import { parse } from 'csv-parse';
import { graphSdkClient } from './baseline-client.js';

const [settingsPath, resultsPath, ...files] = process.argv.slice(2);
if (!settingsPath || !resultsPath || !files.length)
  throw new Error('usage: baseline-fulfill.ts SETTINGS_JSON RESULTS_CSV FILE...');
const { graphBase, client } = graphSdkClient(settingsPath);

const typed = (v: string): unknown => {
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^[[{]/.test(v)) return JSON.parse(v);
  return v;
};
const results = createWriteStream(resultsPath);
results.write('file,line,status,httpStatus\n');
let ok = 0;
let failed = 0;
for (const file of files) {
  const nav = /_(members|owners)_(group|directoryRole)\.csv$/.exec(basename(file));
  let line = 1;
  for await (const row of createReadStream(file).pipe(parse({ columns: true, bom: true })) as AsyncIterable<
    Record<string, string>
  >) {
    line++;
    let status = 200;
    try {
      if (nav) {
        const owner = row[`${nav[2]}Id`];
        const collection = nav[2] === 'group' ? 'groups' : 'directoryRoles';
        if (row.Command === 'insert')
          await client
            .api(`/${collection}/${owner}/${nav[1]}/$ref`)
            .post({ '@odata.id': `${graphBase}/directoryObjects/${row.id}` });
        else await client.api(`/${collection}/${owner}/${nav[1]}/${row.id}/$ref`).delete();
      } else {
        const collection = `${row['@odata.type']!.replace('#microsoft.graph.', '')}s`;
        const body: Record<string, unknown> = {};
        for (const [k, v] of Object.entries(row))
          if (!['Command', '@odata.type', 'id'].includes(k) && v !== '') body[k] = typed(v);
        if (row.Command === 'insert') await client.api(`/${collection}`).post(body);
        else if (row.Command === 'update') await client.api(`/${collection}/${row.id}`).patch(body);
        else await client.api(`/${collection}/${row.id}`).delete();
      }
      ok++;
    } catch (e) {
      status = (e as { statusCode?: number }).statusCode ?? 0;
      failed++;
    }
    results.write(`${file},${line},${status < 400 ? 'ok' : 'failed'},${status}\n`);
  }
}
results.end();
process.stdout.write(`${JSON.stringify({ ok, failed })}\n`);
