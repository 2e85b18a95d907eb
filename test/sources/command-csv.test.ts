import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { UsageError } from '../../src/errors.js';
import {
  CsvInputError,
  openCommandCsv,
  readCommandCsv,
  type CommandCsvOptions,
  type CommandRow,
} from '../../src/sources/command-csv.js';

const FIXTURES = 'test/fixtures/fulfill';
const fixture = (name: string) => join(FIXTURES, name);
const G1 = '11111111-1111-4111-8111-111111111111';
const G2 = '22222222-2222-4222-8222-222222222222';

async function rowsOf(options: CommandCsvOptions): Promise<CommandRow[]> {
  const rows: CommandRow[] = [];
  for await (const row of readCommandCsv(options)) rows.push(row);
  return rows;
}

/** A stdin stand-in that delivers `text` in chunks of `size` bytes, to cut CRLFs and quotes in half. */
function stdinOf(text: string, size = 1 << 16): Readable {
  const bytes = Buffer.from(text);
  const chunks: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
  return Readable.from(chunks);
}

async function csvError(options: CommandCsvOptions): Promise<CsvInputError> {
  try {
    await rowsOf(options);
  } catch (error) {
    assert.instance(error, CsvInputError);
    assert.instance(error, UsageError);
    const e = error as CsvInputError;
    assert.is(e.code, 'ERR_CSV');
    assert.is(e.exitCode, 2);
    return e;
  }
  throw new Error(`no error for ${options.input}`);
}

const Open = suite('openCommandCsv');

Open('openCommandCsv(BOM, CRLF) types rows and numbers them by the physical line they start on', async () => {
  const rows = await rowsOf({ input: fixture('objects-bom-crlf.csv') });
  assert.equal(
    rows.map((r) => [r.kind, r.line, r.command]),
    [
      ['object', 2, 'insert'],
      ['object', 5, 'update'],
      ['object', 6, 'insert'],
      ['object', 8, 'delete'],
    ],
  );
  const [adele, update] = rows;
  assert.equal(adele, {
    kind: 'object',
    file: fixture('objects-bom-crlf.csv'),
    line: 2,
    command: 'insert',
    entity: 'user',
    odataType: '#microsoft.graph.user',
    values: {
      displayName: 'Adele "AV" Vance',
      accountEnabled: true,
      userPrincipalName: 'AdeleV@contoso.com',
      mailNickname: 'AdeleV',
      businessPhones: ['+1 425 555 0109'],
      jobTitle: 'Line one\r\nline two',
    },
  });
  assert.equal(update, {
    kind: 'object',
    file: fixture('objects-bom-crlf.csv'),
    line: 5,
    command: 'update',
    entity: 'user',
    odataType: '#microsoft.graph.user',
    id: G1,
    values: { accountEnabled: false, jobTitle: null },
  });
});

Open('openCommandCsv(LF, no BOM) gives the same lines as the CRLF file', async () => {
  const lf = await rowsOf({ input: fixture('objects-lf.csv') });
  const crlf = await rowsOf({ input: fixture('objects-bom-crlf.csv') });
  assert.equal(
    lf.map((r) => r.line),
    crlf.map((r) => r.line),
  );
  assert.equal(lf[2]?.kind === 'object' && lf[2].values, { displayName: 'Sales\nTeam' });
});

Open('openCommandCsv(stdin) counts lines across chunk borders and blank rows', async () => {
  const text =
    'Command,@odata.type,id,displayName\r\n' +
    `update,#microsoft.graph.user,${G1},"a\r\nb\r\nc"\r\n` +
    ',,,\r\n' +
    '\r\n' +
    `update,#microsoft.graph.user,${G1},"x""y"\r\n` +
    `update,#microsoft.graph.user,${G2},z`;
  for (const size of [1, 2, 3, 1000]) {
    const rows = await rowsOf({ input: '-', stdin: stdinOf(text, size) });
    assert.equal(
      rows.map((r) => [r.line, r.kind === 'object' ? r.values.displayName : r.kind]),
      [
        [2, 'a\r\nb\r\nc'],
        [7, 'x"y'],
        [8, 'z'],
      ],
      `chunks of ${size}`,
    );
    assert.is(rows[0]?.file, '-');
  }
});

Open('openCommandCsv(stdin) counts lines of a file with lone CR line ends', async () => {
  const text = `Command,@odata.type,id,displayName\r\rupdate,#microsoft.graph.user,${G1},"a\rb"\rupdate,#microsoft.graph.user,${G2},c\r`;
  const rows = await rowsOf({ input: '-', stdin: stdinOf(text, 7) });
  assert.equal(
    rows.map((r) => r.line),
    [3, 5],
  );
});

Open('openCommandCsv(bad rows) fails each bad row alone, with its line and column', async () => {
  const rows = await rowsOf({ input: fixture('bad-rows.csv') });
  const summary = rows.map((r) => (r.kind === 'invalid' ? [r.line, r.column] : [r.line, r.kind]));
  assert.equal(summary, [
    [2, 'object'],
    [3, 'id'],
    [4, 'accountEnabled'],
    [5, 'Command'],
    [6, 'id'],
    [7, '@odata.type'],
    [8, '@odata.type'],
    [9, '@odata.type'],
    [10, 'securityEnabled'],
    [11, 'employeeHireDate'],
    [12, 'displayName'],
    [13, 'id'],
    [14, 'object'],
    [15, 'object'],
  ]);
  const message = (line: number) => rows.find((r) => r.line === line && r.kind === 'invalid');
  assert.match(JSON.stringify(message(3)), 'not a GUID');
  assert.match(JSON.stringify(message(4)), 'expected true or false, found \\"yes\\"');
  assert.match(JSON.stringify(message(6)), 'Graph assigns the id');
  assert.match(JSON.stringify(message(9)), 'out of scope');
  assert.match(JSON.stringify(message(10)), 'not a property of user');
});

Open('openCommandCsv(link file) takes the navigation from the file name', async () => {
  const csv = await openCommandCsv({ input: fixture('Contoso_members_group.csv') });
  assert.is(csv.kind, 'link');
  assert.is(csv.entity, 'group');
  assert.is(csv.navigation, 'members');
  const rows: CommandRow[] = [];
  for await (const row of csv.rows()) rows.push(row);
  assert.equal(rows[0], {
    kind: 'link',
    file: fixture('Contoso_members_group.csv'),
    line: 2,
    command: 'insert',
    entity: 'group',
    navigation: 'members',
    ownerId: G1,
    targetId: G2,
  });
  assert.is(rows[1]?.kind === 'link' && rows[1].command, 'delete');
  assert.equal(
    rows.slice(2).map((r) => r.kind === 'invalid' && [r.line, r.column, r.ownerId]),
    [
      [4, 'Command', G1],
      [5, 'groupId', 'not a guid'],
      [6, 'id', G1],
    ],
  );
});

Open('openCommandCsv(owners, directoryRole members) accepts the writable links', async () => {
  const owners = await rowsOf({ input: fixture('x_owners_group.csv') });
  assert.is(owners[0]?.kind === 'link' && owners[0].navigation, 'owners');
  const roles = await rowsOf({ input: fixture('x_members_directoryRole.csv') });
  assert.is(roles[0]?.kind === 'link' && roles[0].entity, 'directoryRole');
});

Open('openCommandCsv(link file, navigation) uses --navigation and refuses a conflict', async () => {
  const rows = await rowsOf({ input: fixture('links-no-nav.csv'), navigation: 'owners' });
  assert.is(rows[0]?.kind === 'link' && rows[0].navigation, 'owners');
  const same = await rowsOf({ input: fixture('x_owners_group.csv'), navigation: 'owners' });
  assert.is(same.length, 1);
  const e = await csvError({ input: fixture('x_owners_group.csv'), navigation: 'members' });
  assert.match(e.message, 'the file name says owners but --navigation says members');
});

Open('openCommandCsv(userId link file) reads manager rows, the only link of a user', async () => {
  const text = `Command,userId,id\ninsert,${G1},${G2}\ndelete,${G1},${G2}\n`;
  const rows = await rowsOf({ input: '-', stdin: stdinOf(text) });
  assert.equal(
    rows.map(
      (r) => r.kind === 'link' && `${r.command} ${r.entity} ${r.navigation} ${r.ownerId} ${r.targetId}`,
    ),
    [`insert user manager ${G1} ${G2}`, `delete user manager ${G1} ${G2}`],
  );
});

Open('openCommandCsv(stdin link file) needs --navigation', async () => {
  const text = `Command,groupId,id\ninsert,${G1},${G2}\n`;
  const e = await csvError({ input: '-', stdin: stdinOf(text) });
  assert.match(e.message, /^stdin, line 1: link file without a navigation/);
  const rows = await rowsOf({ input: '-', stdin: stdinOf(text), navigation: 'members' });
  assert.is(rows[0]?.kind, 'link');
});

Open('openCommandCsv(bad link files) names what is not writable', async () => {
  assert.match((await csvError({ input: fixture('links-no-nav.csv') })).message, 'pass --navigation');
  assert.match(
    (await csvError({ input: fixture('x_members_user.csv') })).message,
    'user members are not writable (user: manager)',
  );
  assert.match(
    (await csvError({ input: '-', stdin: stdinOf(`Command,servicePrincipalId,id\ninsert,${G1},${G2}\n`) }))
      .message,
    'links of servicePrincipal are not writable',
  );
  assert.match(
    (await csvError({ input: fixture('x_owners_directoryRole.csv') })).message,
    'directoryRole owners are not writable',
  );
});

Open('openCommandCsv(file-level problems) throws ERR_CSV naming file, line and column', async () => {
  const cases: [string, RegExp, number | undefined, string | undefined][] = [
    ['empty.csv', /empty file: no header line$/, undefined, undefined],
    ['blank-lines-only.csv', /empty file/, undefined, undefined],
    ['unknown-column.csv', /column displayname: unknown column.*did you mean displayName/, 1, 'displayname'],
    ['read-only-column.csv', /createdDateTime is read-only on user/, 1, 'createdDateTime'],
    ['proxy-addresses-column.csv', /proxyAddresses is read-only/, 1, 'proxyAddresses'],
    ['get-only-column.csv', /birthday is returned only by a single-object GET/, 1, 'birthday'],
    ['navigation-column.csv', /members is a navigation property of group/, 1, 'members'],
    ['duplicate-column.csv', /column displayName: duplicate column \(also column 4\)/, 1, 'displayName'],
    ['missing-type-column.csv', /missing column @odata\.type/, 1, undefined],
    ['wrong-field-count.csv', /line 4: 5 fields where the header has 4/, 4, undefined],
    ['unclosed-quote.csv', /line 3, column 4 \(displayName\): unclosed quote/, 3, '4 (displayName)'],
  ];
  for (const [name, message, line, column] of cases) {
    const e = await csvError({ input: fixture(name) });
    assert.match(e.message, fixture(name), name);
    assert.match(e.message, message, name);
    assert.is(e.line, line, name);
    assert.is(e.column, column, name);
  }
});

Open('openCommandCsv(file) reports malformed CSV before yielding any row', async () => {
  let opened = false;
  try {
    await openCommandCsv({ input: fixture('unclosed-quote.csv') });
    opened = true;
  } catch (error) {
    assert.is((error as CsvInputError).code, 'ERR_CSV');
  }
  assert.not.ok(opened, 'openCommandCsv itself throws');
});

Open('openCommandCsv(stdin) is read through first: malformed CSV far down fails before any row', async () => {
  const text = `Command,@odata.type,id,displayName\nupdate,#microsoft.graph.user,${G1},a\nupdate,x,y,"open\n`;
  const big = `update,#microsoft.graph.user,${G1},a\n`.repeat(5000);
  let opened = false;
  try {
    await openCommandCsv({ input: '-', stdin: stdinOf(`${text.split('\n')[0]}\n${big}${text}`, 4096) });
    opened = true;
  } catch (error) {
    assert.is((error as CsvInputError).code, 'ERR_CSV');
    assert.is((error as CsvInputError).line, 5004);
  }
  assert.not.ok(opened, 'openCommandCsv itself throws');
  // Without the pre-pass (prescan: false) stdin streams, and the error comes after good rows.
  const lines: number[] = [];
  try {
    const csv = await openCommandCsv({
      input: '-',
      prescan: false,
      stdin: stdinOf(`${text.split('\n')[0]}\n${big}${text}`, 4096),
    });
    for await (const row of csv.rows()) lines.push(row.line);
    assert.unreachable('no error');
  } catch (error) {
    assert.is((error as CsvInputError).line, 5004);
  }
  assert.ok(lines.length > 0, 'rows before the error came through');
});

Open('openCommandCsv(header only) yields no rows', async () => {
  const csv = await openCommandCsv({ input: fixture('header-only.csv') });
  assert.equal(csv.columns, ['Command', '@odata.type', 'id', 'displayName']);
  assert.equal(await rowsOf({ input: fixture('header-only.csv') }), []);
});

Open('openCommandCsv(extension column) accepts directory extensions as strings', async () => {
  const [row] = await rowsOf({ input: fixture('extension-column.csv') });
  assert.equal(row?.kind === 'object' && row.values, {
    extension_b7d8e648520f41d3b9c0fdeb91768a0a_costCenter: 'CC-42',
  });
});

Open('openCommandCsv(huge cell) stops at max_record_size, 1 MiB by default', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'command-csv-'));
  try {
    const path = join(dir, 'huge.csv');
    const huge = 'x'.repeat(1024 * 1024 + 10);
    await writeFile(path, `Command,@odata.type,id,displayName\nupdate,#microsoft.graph.user,${G1},ok\n`);
    await writeFile(path, `update,#microsoft.graph.user,${G1},"${huge}"\n`, { flag: 'a' });
    const e = await csvError({ input: path });
    assert.match(e.message, /line 3, column 4 \(displayName\): record larger than the 1048576 bytes allowed/);
    const small = await csvError({ input: fixture('objects-lf.csv'), maxRecordSize: 50 });
    assert.match(small.message, 'record larger than the 50 bytes allowed');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

Open('openCommandCsv(missing file or bad options) is a usage error', async () => {
  const e = await csvError({ input: fixture('no-such-file.csv') });
  assert.match(e.message, 'cannot read');
  for (const options of [{ input: '' }, { input: '-' }, { input: 'x.csv', navigation: 'directReports' }]) {
    try {
      await openCommandCsv(options as CommandCsvOptions);
      assert.unreachable();
    } catch (error) {
      assert.is((error as UsageError).code, 'ERR_INVALID_OPTION');
    }
  }
});

Open('openCommandCsv().close() releases a file whose rows are not read', async () => {
  const csv = await openCommandCsv({ input: fixture('bad-rows.csv') });
  await csv.close();
  const first = await openCommandCsv({ input: fixture('bad-rows.csv') });
  for await (const row of first.rows()) {
    assert.is(row.line, 2);
    break;
  }
});

Open(
  'openCommandCsv(a secret file) quotes no part of a one-column line that is not column names',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'command-csv-'));
    try {
      // The emulator's app.pfx.password is 16 characters: half of it quoted halves the secret.
      const secret = 'VecJZrxzSnP-o1wu';
      await writeFile(join(dir, 'app.pfx.password'), secret);
      const e = await csvError({ input: join(dir, 'app.pfx.password') });
      assert.not.ok(e.message.includes(secret.slice(0, 3)), e.message);
      assert.ok(
        e.message.endsWith(
          'line 1: missing column Command (insert, update or delete); the first line is one column of 16 characters (not quoted: it may be a secret), not a header of several columns (none of the delimiters looked for: comma, semicolon, tab; else give --delimiter)',
        ),
        e.message,
      );
      // A short password would have been quoted whole.
      await writeFile(join(dir, 'short.password'), 'Pa55w0rd\n');
      const short = await csvError({ input: join(dir, 'short.password') });
      assert.not.ok(short.message.includes('Pa55'), short.message);
      // A header with a delimiter that is not detected is column names: quoted, as a hint.
      await writeFile(join(dir, 'pipes.csv'), 'Command|@odata.type|id|jobTitle\n');
      const pipes = await csvError({ input: join(dir, 'pipes.csv') });
      assert.ok(
        pipes.message.endsWith(
          "the first line is one column, 'Command|@odata.type|id|jobTitle', not a header of several columns (none of the delimiters looked for: comma, semicolon, tab; else give --delimiter)",
        ),
        pipes.message,
      );
      // Bytes of a PFX: the line quoted is short and printable.
      const binary = Buffer.from([
        0x30, 0x82, 0x09, 0x76, 0x02, 0x01, 0x03, 0x22, 0x0a, 0x41, 0x22, 0x42, 0x00, 0x2c, 0x0a,
      ]);
      await writeFile(join(dir, 'app.pfx'), Buffer.concat([binary, Buffer.from(`"x"y,${secret}\n`)]));
      const b = await csvError({ input: join(dir, 'app.pfx') });
      assert.not.ok(b.message.includes(secret.slice(0, 9)), b.message);
      // eslint-disable-next-line no-control-regex
      assert.not.match(b.message, /[\u0000-\u0008\u000b-\u001f\ufffd]/);
      assert.ok(b.message.length < 200, b.message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

Open(
  'openCommandCsv(a header without Command) quotes it with its own delimiter when it is column names, else not at all',
  async () => {
    const dir = await mkdtemp(join(tmpdir(), 'command-csv-'));
    try {
      await writeFile(join(dir, 'names.csv'), '@odata.type;id;jobTitle\n');
      const names = await csvError({ input: join(dir, 'names.csv') });
      assert.ok(
        names.message.endsWith(
          "missing column Command (insert, update or delete); header is '@odata.type;id;jobTitle'",
        ),
        names.message,
      );
      // A first line of data (no header): its cells may be a user's secret.
      await writeFile(join(dir, 'data.csv'), 'alice@contoso.com;Xq7-secret-Pw\nbob@contoso.com;other\n');
      const data = await csvError({ input: join(dir, 'data.csv') });
      assert.not.ok(data.message.includes('Xq7'), data.message);
      assert.not.ok(data.message.includes('alice'), data.message);
      assert.ok(
        data.message.endsWith(
          'the first line has 2 columns, not all of them column names (not quoted: it may be data)',
        ),
        data.message,
      );
      // A misspelt Command is named, and only that cell quoted.
      await writeFile(join(dir, 'typo.csv'), 'Comand,@odata.type,id,Pa55-secret\n');
      const typo = await csvError({ input: join(dir, 'typo.csv') });
      assert.not.ok(typo.message.includes('Pa55'), typo.message);
      assert.ok(typo.message.endsWith("column 1 looks like a misspelt Command: 'Comand'"), typo.message);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  },
);

Open.run();

// ---

const Read = suite('readCommandCsv');

Read('readCommandCsv(options) checks the header before the first row', async () => {
  const it = readCommandCsv({ input: fixture('read-only-column.csv') });
  try {
    await it.next();
    assert.unreachable();
  } catch (error) {
    assert.is((error as CsvInputError).line, 1);
  }
});

Read('readCommandCsv(options) yields the rows of openCommandCsv', async () => {
  const rows = await rowsOf({ input: fixture('x_owners_group.csv') });
  assert.is(rows.length, 1);
});

Read.run();
