/**
 * The export pipeline composed by hand, ending in a sink of our own: a delta source → the router →
 * the navigation splitters → the cookie stage → a sink that prints one line per row, then the
 * deltaLink that the next (incremental) round would start from
 * (`node --import tsx samples/export-custom-sink.ts`).
 */
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import _ from 'highland';
import {
  createGraphClient,
  createRoundState,
  createTokenProvider,
  graphDelta,
  readTenantFile,
  resolveMapping,
  routeByTypeStream,
  selectQuery,
  splitNavigationStream,
  startEmulator,
  type ExportMsg,
  type TableRow,
} from '../src/index.js';

const emu = await startEmulator({
  tenant: await readTenantFile(new URL('tenant.json', import.meta.url).pathname),
});
const tokens = createTokenProvider({
  authority: emu.authority,
  clientId: emu.clientId,
  credential: { kind: 'secret', secret: emu.clientSecret },
  scope: 'https://graph.microsoft.com/.default',
  ca: emu.caPem,
});
const client = createGraphClient({
  baseUrl: emu.graphUrl,
  getToken: (o) => tokens.getToken(o),
  ca: emu.caPem,
});
try {
  // --- the pipeline
  const mapping = resolveMapping({ select: ['group=displayName,members'] });
  const round = { entity: 'group', select: selectQuery(mapping.entities[0]!), mode: 'complete' } as const;
  const state = createRoundState([{ ...round, objects: 0, pages: 0 }]);
  const source = graphDelta({
    client,
    entity: 'group',
    initialUrl: `${emu.graphUrl}groups/delta?$select=${round.select}`,
  });
  const rows = _<ExportMsg>(Readable.from(source))
    .through(routeByTypeStream({ mapping }))
    .through(splitNavigationStream({ mapping }))
    .through(state.through);
  const print = new Writable({
    objectMode: true,
    write(page: TableRow[], _encoding, done) {
      for (const { table, cells } of page) process.stdout.write(`${table} ${cells.Command} ${cells.id}\n`);
      done();
    },
  });
  await pipeline(rows.toNodeStream({ objectMode: true }), print);
  process.stdout.write(`next round from: ${new URL(state.deltaLinks().get('group')!).pathname}\n`);
  // ---
} finally {
  client.close();
  await emu.close();
}
