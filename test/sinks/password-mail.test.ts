import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerOptions } from 'smtp-server';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { createCertificateAuthority } from '../../src/emulator/ca.js';
import { redact } from '../../src/redact.js';
import {
  isLoopbackHost,
  openPasswordMail,
  type MailedPassword,
  type MailSettings,
} from '../../src/sinks/password-mail.js';
import { readMailSettings } from '../../src/settings/mail-settings.js';
import type { SettingsLayer } from '../../src/settings/settings.js';
import type { Logger } from '../../src/types.js';
import { failure } from '../helpers/common.js';

const ca = createCertificateAuthority({ commonName: 'smtp test CA' });
const serverCertificate = ca.issueServerCertificate();
const SMTP_USER = 'mailer';
const SMTP_PASSWORD = 'smtp-Passw0rd-secret';

interface Received {
  from: string;
  to: string[];
  raw: string;
  secure: boolean;
  user: unknown;
}

async function withSmtp(
  options: SMTPServerOptions,
  fn: (port: number, received: Received[], caFile: string) => Promise<void>,
): Promise<void> {
  const received: Received[] = [];
  const server = new SMTPServer({
    key: serverCertificate.keyPem,
    cert: serverCertificate.certPem,
    authOptional: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === SMTP_USER && auth.password === SMTP_PASSWORD)
        callback(null, { user: auth.username });
      else callback(new Error('Invalid username or password'));
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        received.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw: Buffer.concat(chunks).toString('utf8'),
          secure: session.secure,
          user: session.user,
        });
        callback();
      });
    },
    ...options,
  });
  server.on('error', () => {});
  const dir = await mkdtemp(join(tmpdir(), 'smtp-'));
  try {
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    const { port } = server.server.address() as AddressInfo;
    const caFile = join(dir, 'ca.pem');
    await writeFile(caFile, ca.caPem);
    await fn(port, received, caFile);
  } finally {
    await new Promise<void>((done) => server.close(() => done()));
    await rm(dir, { recursive: true, force: true });
  }
}

function recordingLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    info: (m) => lines.push(m),
    warn: (m) => lines.push(`warning: ${m}`),
    verbose: (m) => lines.push(m),
  };
}

const entry = (n: number, recipient?: string): MailedPassword => ({
  file: 'new-users.csv',
  line: n + 1,
  userPrincipalName: `user${n}@contoso.com`,
  password: `Initial-Passw0rd-${n}!`,
  ...(recipient ? { recipient } : {}),
});

const settings = (port: number, over: Partial<MailSettings> = {}): MailSettings => ({
  host: '127.0.0.1',
  port,
  security: 'StartTls',
  from: 'entra-connector@contoso.com',
  to: 'helpdesk@contoso.com',
  ...over,
});

function assertNoPassword(lines: string[], ...passwords: string[]): void {
  for (const line of lines)
    for (const p of passwords) assert.not.ok(line.includes(p), `password in: ${line}`);
}

const Open = suite('openPasswordMail');

Open(
  'openPasswordMail(StartTls, CaFile, auth, To) mails a confirmed password to the fixed address, nothing for a discarded one',
  () =>
    withSmtp({}, async (port, received, caFile) => {
      const log = recordingLogger();
      const sink = await openPasswordMail(
        settings(port, { caFile, username: SMTP_USER, password: SMTP_PASSWORD }),
        { logger: log },
      );
      await sink.prepare([entry(1), entry(2)]);
      await sink.confirm(entry(1));
      await sink.discard(entry(2));
      await sink.close();
      assert.is(received.length, 1);
      const [mail] = received as [Received];
      assert.equal(mail.to, ['helpdesk@contoso.com']);
      assert.is(mail.from, 'entra-connector@contoso.com');
      assert.ok(mail.secure, 'STARTTLS was used');
      assert.is(mail.user, SMTP_USER);
      assert.match(mail.raw, /^Subject: Initial password of the new account user1@contoso\.com\r?$/m);
      assert.match(mail.raw, /^To: helpdesk@contoso\.com\r?$/m);
      assert.ok(mail.raw.includes(`Initial password: ${entry(1).password}`));
      assert.ok(mail.raw.includes('user1@contoso.com'));
      assert.not.ok(mail.raw.includes(entry(2).password));
      assert.ok(
        log.lines.includes('mailed the initial password of user1@contoso.com to helpdesk@contoso.com'),
      );
      assertNoPassword(log.lines, entry(1).password, entry(2).password, SMTP_PASSWORD);
      assert.is(await sink.settleEarlier('user1@contoso.com', 'created'), false);
    }),
);

Open(
  'openPasswordMail(ToColumn) mails each password to the recipient of its row; a row without one fails at close',
  () =>
    withSmtp({}, async (port, received, caFile) => {
      const log = recordingLogger();
      const { to: _, ...noTo } = settings(port, { caFile });
      const sink = await openPasswordMail({ ...noTo, toColumn: 'managerMail' }, { logger: log });
      const withManager = entry(1, 'manager1@contoso.com');
      const without = entry(2);
      await sink.prepare([withManager, without]);
      await sink.confirm(withManager);
      await sink.confirm(without);
      const message = await failure(sink.close(), 'ERR_PASSWORD_MAIL');
      assert.match(message, /1 initial password\(s\) could not be mailed \(user2@contoso\.com\): reset them/);
      assert.is(received.length, 1);
      assert.equal(received[0]!.to, ['manager1@contoso.com']);
      assert.ok(received[0]!.raw.includes(withManager.password));
      assert.ok(
        log.lines.some((l) =>
          /warning: new-users\.csv:3: no recipient for user2@contoso\.com in column managerMail/.test(l),
        ),
      );
      assertNoPassword(log.lines, withManager.password, without.password);
    }),
);

Open('openPasswordMail(Tls) speaks TLS from the first byte', () =>
  withSmtp({ secure: true }, async (port, received, caFile) => {
    const sink = await openPasswordMail(settings(port, { caFile, security: 'Tls' }), {
      logger: recordingLogger(),
    });
    await sink.prepare([entry(1)]);
    await sink.confirm(entry(1));
    await sink.close();
    assert.is(received.length, 1);
    assert.ok(received[0]!.secure);
  }),
);

Open('openPasswordMail(StartTls) without the CA fails before anything is created, pointing at CaFile', () =>
  withSmtp({}, async (port, received) => {
    const message = await failure(
      openPasswordMail(settings(port), { logger: recordingLogger() }),
      'ERR_PASSWORD_MAIL',
    );
    assert.match(message, new RegExp(`SMTP server 127\\.0\\.0\\.1:${port} \\(StartTls\\)`));
    assert.match(message, /MailSettings:CaFile/);
    assert.is(received.length, 0);
  }),
);

Open('openPasswordMail(StartTls) refuses a server that does not offer STARTTLS', () =>
  withSmtp({ disabledCommands: ['STARTTLS'] }, async (port, _received, caFile) => {
    await failure(
      openPasswordMail(settings(port, { caFile }), { logger: recordingLogger() }),
      'ERR_PASSWORD_MAIL',
    );
  }),
);

Open('openPasswordMail(None) sends in clear to a loopback relay', () =>
  withSmtp({ disabledCommands: ['STARTTLS'] }, async (port, received) => {
    const sink = await openPasswordMail(settings(port, { security: 'None' }), { logger: recordingLogger() });
    await sink.confirm(entry(1));
    await sink.close();
    assert.is(received.length, 1);
    assert.is(received[0]!.secure, false);
  }),
);

Open('openPasswordMail(None to a remote host) is refused before connecting', async () => {
  const message = await failure(
    openPasswordMail(settings(25, { host: 'smtp.example.com', security: 'None' }), {
      logger: recordingLogger(),
    }),
    'ERR_SETTINGS',
  );
  assert.match(message, /Security None is refused for smtp\.example\.com/);
});

Open(
  'openPasswordMail(auth) with a wrong SMTP password fails at open, without the password in the message',
  () =>
    withSmtp({}, async (port, _received, caFile) => {
      const message = await failure(
        openPasswordMail(settings(port, { caFile, username: SMTP_USER, password: 'wrong-smtp-password' }), {
          logger: recordingLogger(),
        }),
        'ERR_PASSWORD_MAIL',
      );
      assert.not.ok(message.includes('wrong-smtp-password'));
    }),
);

Open.run();

// ---

const Read = suite('readMailSettings');

const layer = (values: Record<string, string>): SettingsLayer => ({
  origin: 'appsettings.agent.json',
  values: new Map(Object.entries(values)),
});

Read('readMailSettings(layers) is undefined without a MailSettings section', () => {
  assert.is(readMailSettings([layer({ 'Connections:C:TenantId': 'x' })]), undefined);
});

Read('readMailSettings(layers) defaults to StartTls on 587 and resolves CaFile against baseDir', () => {
  const parsed = readMailSettings(
    [
      layer({
        'mailsettings:host': 'smtp.contoso.com',
        'MailSettings:From': 'Entra <entra@contoso.com>',
        'MailSettings:ToColumn': 'managerMail',
        'MailSettings:CaFile': 'ca.pem',
        'MailSettings:Username': 'mailer',
        'MailSettings:Password': 'mail-settings-password',
      }),
    ],
    { baseDir: '/etc/entra' },
  );
  assert.equal(parsed, {
    host: 'smtp.contoso.com',
    port: 587,
    security: 'StartTls',
    from: 'Entra <entra@contoso.com>',
    toColumn: 'managerMail',
    username: 'mailer',
    password: 'mail-settings-password',
    caFile: '/etc/entra/ca.pem',
  });
  assert.is(redact('mail-settings-password'), '***');
});

Read('readMailSettings(layers) refuses Security None to a host that is not loopback', () => {
  const base = {
    'MailSettings:From': 'a@contoso.com',
    'MailSettings:To': 'b@contoso.com',
    'MailSettings:Security': 'none',
  };
  assert.throws(
    () => readMailSettings([layer({ ...base, 'MailSettings:Host': 'smtp.example.com' })]),
    /Security None is refused for smtp\.example\.com: a password must not cross a network in clear/,
  );
  assert.is(readMailSettings([layer({ ...base, 'MailSettings:Host': 'localhost' })])?.port, 25);
});

Read('readMailSettings(layers) names what is wrong', () => {
  const base = { 'MailSettings:Host': 'smtp.contoso.com', 'MailSettings:From': 'a@contoso.com' };
  const cases: [Record<string, string>, RegExp][] = [
    [base, /no recipient: set To/],
    [{ ...base, 'MailSettings:To': 'b@contoso.com', 'MailSettings:ToColumn': 'c' }, /not both/],
    [{ ...base, 'MailSettings:To': 'b@contoso.com', 'MailSettings:Port': '99999' }, /Port must be 1-65535/],
    [
      { ...base, 'MailSettings:To': 'b@contoso.com', 'MailSettings:Security': 'ssl' },
      /Security must be StartTls, Tls, None/,
    ],
    [
      { ...base, 'MailSettings:To': 'b@contoso.com', 'MailSettings:Server': 'x' },
      /unknown key MailSettings:Server/,
    ],
    [{ ...base, 'MailSettings:To': 'not an address' }, /To is not an e-mail address/],
    [{ 'MailSettings:From': 'a@contoso.com', 'MailSettings:To': 'b@contoso.com' }, /Host is missing/],
  ];
  for (const [values, expected] of cases) assert.throws(() => readMailSettings([layer(values)]), expected);
});

Read.run();

// ---

const Loopback = suite('isLoopbackHost');

Loopback('isLoopbackHost(host) accepts localhost, 127.0.0.0/8 and ::1 only', () => {
  for (const host of ['localhost', '127.0.0.1', '127.1.2.3', '::1', '[::1]'])
    assert.ok(isLoopbackHost(host), host);
  for (const host of ['smtp.contoso.com', '10.0.0.1', '128.0.0.1', 'localhost.example.com', '::2'])
    assert.not.ok(isLoopbackHost(host), host);
});

Loopback.run();
