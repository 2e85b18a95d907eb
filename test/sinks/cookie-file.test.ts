import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { cookiePaths, readCookie, writeCookies, type CookieToWrite } from '../../src/sinks/cookie-file.js';
import { withDir } from '../helpers/common.js';

const LINK = 'https://graph.microsoft.com/v1.0/users/delta?$deltatoken=oEcOySpF_hWYmTIUZBOIfPzcwisr';
const made = new Date('2025-03-01T10:00:00.000Z');
const cookie: CookieToWrite = {
  entity: 'user',
  deltaLink: LINK,
  select: 'accountEnabled,id,mail',
  tenantId: 'contoso.onmicrosoft.com',
  graphUrl: 'https://graph.microsoft.com/v1.0/',
  createdAt: made,
};
const ask = (dir: string, overrides: Partial<Parameters<typeof readCookie>[0]> = {}) =>
  readCookie({
    dir,
    connection: 'Contoso',
    entity: 'user',
    select: cookie.select,
    tenantId: cookie.tenantId,
    graphUrl: cookie.graphUrl,
    now: new Date('2025-03-02T10:00:00.000Z'),
    ...overrides,
  });
const reasonOf = (status: Awaited<ReturnType<typeof readCookie>>): string => {
  assert.is(status.status, 'unusable');
  return (status as { reason: string }).reason;
};

// ---

const Write = suite('writeCookies');

Write(
  'writeCookies() writes the deltaLink alone in the .bin, a sidecar next to it, and no temp file',
  async () => {
    await withDir(async (root) => {
      const dir = join(root, 'ExportCookies');
      await writeCookies(dir, 'Contoso', [cookie, { ...cookie, entity: 'group', deltaLink: `${LINK}-g` }]);
      assert.equal((await readdir(dir)).sort(), [
        'Contoso_cookie_group.bin',
        'Contoso_cookie_group.json',
        'Contoso_cookie_user.bin',
        'Contoso_cookie_user.json',
      ]);
      assert.is(await readFile(join(dir, 'Contoso_cookie_user.bin'), 'utf8'), LINK);
      const sidecar = JSON.parse(await readFile(join(dir, 'Contoso_cookie_user.json'), 'utf8'));
      assert.equal(
        { ...sidecar, deltaLinkSha256: typeof sidecar.deltaLinkSha256 },
        {
          version: 1,
          entity: 'user',
          createdAt: '2025-03-01T10:00:00.000Z',
          select: 'accountEnabled,id,mail',
          tenantId: 'contoso.onmicrosoft.com',
          graphUrl: 'https://graph.microsoft.com/v1.0/',
          deltaLinkSha256: 'string',
        },
      );
    });
  },
);

Write.run();

// ---

const Read = suite('readCookie');

Read('readCookie() says none when there is no cookie', async () => {
  await withDir(async (dir) => assert.equal(await ask(dir), { status: 'none' }));
});

Read('readCookie() gives back the deltaLink of a cookie made for this run', async () => {
  await withDir(async (dir) => {
    await writeCookies(dir, 'Contoso', [cookie]);
    assert.equal(await ask(dir), { status: 'ok', deltaLink: LINK });
    assert.equal(
      await ask(dir, { tenantId: 'CONTOSO.onmicrosoft.com', graphUrl: 'https://graph.microsoft.com/v1.0' }),
      {
        status: 'ok',
        deltaLink: LINK,
      },
    );
  });
});

Read('readCookie() refuses a cookie older than 7 days, saying when it was made', async () => {
  await withDir(async (dir) => {
    await writeCookies(dir, 'Contoso', [cookie]);
    const reason = reasonOf(await ask(dir, { now: new Date('2025-03-08T10:00:01.000Z') }));
    assert.match(reason, 'expired: older than 7 days');
    assert.match(reason, '2025-03-01T10:00:00.000Z');
    assert.is((await ask(dir, { now: new Date('2025-03-08T10:00:00.000Z') })).status, 'ok');
  });
});

Read('readCookie() refuses a cookie made for another $select, tenant or Graph URL', async () => {
  await withDir(async (dir) => {
    await writeCookies(dir, 'Contoso', [cookie]);
    assert.match(
      reasonOf(await ask(dir, { select: 'accountEnabled,id' })),
      'another $select (accountEnabled,id,mail → accountEnabled,id)',
    );
    assert.match(reasonOf(await ask(dir, { tenantId: 'fabrikam.com' })), 'another tenant');
    assert.match(
      reasonOf(await ask(dir, { graphUrl: 'https://graph.microsoft.com/beta/' })),
      'another Graph URL',
    );
  });
});

Read('readCookie() refuses a cookie without sidecar, or with an unreadable one', async () => {
  await withDir(async (dir) => {
    const { bin, sidecar } = cookiePaths(dir, 'Contoso', 'user');
    await writeFile(bin, LINK);
    assert.match(reasonOf(await ask(dir)), 'no sidecar');
    await writeFile(sidecar, '{ not json');
    assert.match(reasonOf(await ask(dir)), 'unreadable sidecar');
    await writeFile(sidecar, '{"version": 99}');
    assert.match(reasonOf(await ask(dir)), 'format version 99');
  });
});

Read('readCookie() refuses a .bin and sidecar left unmatched by a killed write', async () => {
  await withDir(async (dir) => {
    await writeCookies(dir, 'Contoso', [cookie]);
    // The .bin is written first: a run killed before its sidecar leaves the new link with the old sidecar.
    await writeFile(cookiePaths(dir, 'Contoso', 'user').bin, `${LINK}-newer`);
    assert.match(reasonOf(await ask(dir)), 'do not match');
  });
});

Read(
  'readCookie() refuses an empty cookie or one that is not a URL, and tolerates a final newline',
  async () => {
    await withDir(async (dir) => {
      const { bin } = cookiePaths(dir, 'Contoso', 'user');
      await writeFile(bin, '');
      assert.match(reasonOf(await ask(dir)), 'empty cookie');
      await writeFile(bin, 'not a url');
      assert.match(reasonOf(await ask(dir)), 'does not hold a URL');
      await writeCookies(dir, 'Contoso', [cookie]);
      await writeFile(bin, `${LINK}\n`);
      assert.equal(await ask(dir), { status: 'ok', deltaLink: LINK });
    });
  },
);

Read.run();
