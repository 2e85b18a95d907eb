import { spawn } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decryptValue, encryptValue, isEncrypted } from '../../src/credentials/envelope.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { openEncryptedPasswordFile } from '../../src/sinks/password-encrypted-file.js';
import { entraArgs } from '../helpers/cli.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const cert = generateSelfSignedCertificate({ commonName: 'protect test' });
const key = { privateKey: createPrivateKey(cert.keyPem), thumbprintSha256: cert.thumbprintSha256 };
const PFX_PASSWORD = 'pfx-Passw0rd!';

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function entra(args: string[], options: { stdin?: string; env?: Record<string, string>; cwd?: string } = {}) {
  return new Promise<Run>((done, fail) => {
    // The bundle resolves its packages from the checkout: a test may run it from a folder without node_modules.
    const child = spawn(process.execPath, [...entraArgs(), ...args], {
      cwd: options.cwd ?? ROOT,
      env: { ...process.env, ENTRA_CERTIFICATE_PASSWORD: '', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
    child.stdin.end(options.stdin ?? '');
  });
}

interface Files {
  dir: string;
  certOnly: string;
  pem: string;
  pfx: string;
}

async function withFiles(fn: (files: Files) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'protect-'));
  try {
    const files = {
      dir,
      certOnly: join(dir, 'enc.crt'),
      pem: join(dir, 'enc.pem'),
      pfx: join(dir, 'enc.pfx'),
    };
    await writeFile(files.certOnly, cert.certPem);
    await writeFile(files.pem, cert.certPem + cert.keyPem, { mode: 0o600 });
    await writeFile(files.pfx, cert.toPfx(PFX_PASSWORD), { mode: 0o600 });
    await fn(files);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function lines(text: string): string[] {
  return text.split('\n').filter(Boolean);
}

const Value = suite('entra protect value');

Value('entra protect value A B prints one ciphertext per value, with only the certificate', () =>
  withFiles(async ({ certOnly }) => {
    const run = await entra(['protect', 'value', '--certificate', certOnly, 'first-secret', '00123']);
    assert.is(run.code, 0, run.stderr);
    const out = lines(run.stdout);
    assert.is(out.length, 2);
    assert.equal(
      out.map((c) => decryptValue(c, key)),
      ['first-secret', '00123'],
    );
    assert.match(run.stderr, /2 value\(s\) encrypted for certificate/);
    assert.not.ok(run.stderr.includes('first-secret'));
  }),
);

Value('entra protect value reads values from stdin, one per line, and binds them with --key', () =>
  withFiles(async ({ certOnly }) => {
    const run = await entra(
      ['protect', 'value', '--certificate', certOnly, '--key', 'Connections:Contoso:ApplicationKey'],
      { stdin: 'stdin-secret-1\r\n\nstdin secret 2\n' },
    );
    assert.is(run.code, 0, run.stderr);
    const out = lines(run.stdout);
    assert.equal(
      out.map((c) => decryptValue(c, key, { key: 'Connections:Contoso:ApplicationKey' })),
      ['stdin-secret-1', 'stdin secret 2'],
    );
  }),
);

Value('entra protect value with no certificate at all is a usage error (exit 2), nothing on stdout', () =>
  withFiles(async ({ dir }) => {
    const run = await entra(['protect', 'value', 'x'], { cwd: dir });
    assert.is(run.code, 2);
    assert.is(run.stdout, '');
    assert.match(run.stderr, /^entra: ERR_USAGE: name the certificate: --certificate FILE/);
  }),
);

Value(
  'entra protect value --certificate PFX takes the password from ENTRA_CERTIFICATE_PASSWORD; a wrong one exits 2',
  () =>
    withFiles(async ({ pfx }) => {
      const [ok, bad] = await Promise.all([
        entra(['protect', 'value', '--certificate', pfx, 'v1'], {
          env: { ENTRA_CERTIFICATE_PASSWORD: PFX_PASSWORD },
        }),
        entra(['protect', 'value', '--certificate', pfx, 'v1'], {
          env: { ENTRA_CERTIFICATE_PASSWORD: 'not-the-password' },
        }),
      ]);
      assert.is(ok.code, 0, ok.stderr);
      assert.is(decryptValue(ok.stdout.trim(), key), 'v1');
      assert.is(bad.code, 2);
      assert.is(bad.stdout, '');
      assert.match(bad.stderr, /ERR_CERTIFICATE: .*wrong PFX password/);
      assert.not.ok(bad.stderr.includes('not-the-password'));
    }),
);

Value('entra protect value --settings F uses its EncryptionCertificate section (File relative to F)', () =>
  withFiles(async ({ dir }) => {
    const settings = join(dir, 'appsettings.agent.json');
    await writeFile(settings, JSON.stringify({ EncryptionCertificate: { File: 'enc.crt' } }));
    const run = await entra(['protect', 'value', '--settings', settings, 'from-settings']);
    assert.is(run.code, 0, run.stderr);
    assert.is(decryptValue(run.stdout.trim(), key), 'from-settings');
  }),
);

Value.run();

// ---

const File = suite('entra protect file');

const PLAIN = {
  Connections: {
    Contoso: {
      ApplicationId: '11111111-2222-3333-4444-555555555555',
      ApplicationKey: 'client-secret-in-clear',
      TenantId: 'contoso.onmicrosoft.com',
    },
  },
  MailSettings: { Host: 'smtp.contoso.com', Port: 587, Password: 'smtp-password' },
  EncryptionCertificate: { File: 'enc.crt' },
};

File(
  'entra protect file IN OUT writes OUT mode 0600 with every string encrypted, and leaves IN as it was',
  () =>
    withFiles(async ({ dir, certOnly }) => {
      const input = join(dir, 'appsettings.agent.json');
      const output = join(dir, 'appsettings.encrypted.agent.json');
      const text = `// comment\n${JSON.stringify(PLAIN, null, 2)}\n`;
      await writeFile(input, text, { mode: 0o644 });
      const run = await entra(['protect', 'file', input, output, '--certificate', certOnly]);
      assert.is(run.code, 0, run.stderr);
      assert.is(run.stdout, '');
      assert.is(await readFile(input, 'utf8'), text);
      assert.is((await stat(output)).mode & 0o777, 0o600);
      const json = JSON.parse(await readFile(output, 'utf8'));
      const contoso: Record<string, string> = json.Connections.Contoso;
      for (const [k, v] of Object.entries(contoso)) {
        assert.ok(isEncrypted(v), k);
        assert.is(
          decryptValue(v, key, { key: `Connections:Contoso:${k}` }),
          PLAIN.Connections.Contoso[k as 'TenantId'],
        );
      }
      assert.ok(isEncrypted(json.MailSettings.Host));
      assert.ok(isEncrypted(json.MailSettings.Password));
      assert.is(json.MailSettings.Port, 587);
      assert.is(json.EncryptionCertificate, undefined);
      assert.match(run.stderr, /5 value\(s\) encrypted/);
      assert.match(run.stderr, /EncryptionCertificate left out/);
    }),
);

File('entra protect file IN IN, or onto an existing OUT without --force, is refused (exit 2)', () =>
  withFiles(async ({ dir, certOnly }) => {
    const input = join(dir, 'in.json');
    const output = join(dir, 'out.json');
    await writeFile(input, JSON.stringify(PLAIN));
    await writeFile(output, '{}');
    const [same, exists] = await Promise.all([
      entra(['protect', 'file', input, input, '--certificate', certOnly]),
      entra(['protect', 'file', input, output, '--certificate', certOnly]),
    ]);
    assert.is(same.code, 2);
    assert.match(same.stderr, /OUT is IN/);
    assert.is(exists.code, 2);
    assert.match(exists.stderr, /exists: remove it, or give --force/);
    assert.is(await readFile(output, 'utf8'), '{}');
    const forced = await entra(['protect', 'file', input, output, '--certificate', certOnly, '--force']);
    assert.is(forced.code, 0, forced.stderr);
    assert.is(JSON.parse(await readFile(output, 'utf8')).MailSettings.Port, 587);
  }),
);

File.run();

// ---

const Decrypt = suite('entra protect decrypt');

Decrypt('entra protect decrypt VALUE needs the private key, and gives back the values (args or stdin)', () =>
  withFiles(async ({ pem, pfx, certOnly }) => {
    const a = encryptValue('plain one', cert.certPem);
    const b = encryptValue('plain two', cert.certPem, { key: 'A:B' });
    const [fromArgs, fromStdin, noKey] = await Promise.all([
      entra(['protect', 'decrypt', '--certificate', pem, a]),
      entra(['protect', 'decrypt', '--certificate', pfx, '--key', 'a:b'], {
        stdin: `${b}\n`,
        env: { ENTRA_CERTIFICATE_PASSWORD: PFX_PASSWORD },
      }),
      entra(['protect', 'decrypt', '--certificate', certOnly, a]),
    ]);
    assert.is(fromArgs.code, 0, fromArgs.stderr);
    assert.is(fromArgs.stdout, 'plain one\n');
    assert.is(fromStdin.code, 0, fromStdin.stderr);
    assert.is(fromStdin.stdout, 'plain two\n');
    assert.is(noKey.code, 2);
    assert.match(noKey.stderr, /no private key/);
    assert.is(noKey.stdout, '');
  }),
);

Decrypt('entra protect decrypt names a value encrypted for another certificate (exit 2)', () =>
  withFiles(async ({ pem }) => {
    const other = generateSelfSignedCertificate({ commonName: 'other' });
    const run = await entra(['protect', 'decrypt', '--certificate', pem, encryptValue('x', other.certPem)]);
    assert.is(run.code, 2);
    assert.match(run.stderr, /ERR_DECRYPT: the value: cannot decrypt: encrypted for certificate/);
  }),
);

Decrypt(
  'entra protect decrypt --file F reads an encrypted password file and an encrypted settings file',
  () =>
    withFiles(async ({ dir, pem, certOnly }) => {
      const passwords = join(dir, 'passwords.csv');
      const sink = await openEncryptedPasswordFile(passwords, { certificatePem: cert.certPem });
      const generated = {
        file: 'users.csv',
        line: 2,
        userPrincipalName: 'a@contoso.com',
        password: 'Gen-Passw0rd!',
      };
      await sink.prepare([generated]);
      await sink.confirm(generated);
      await sink.close();
      const csv = await entra(['protect', 'decrypt', '--certificate', pem, '--file', passwords]);
      assert.is(csv.code, 0, csv.stderr);
      assert.is(
        csv.stdout,
        'userPrincipalName,password,state,file,line\n' +
          'a@contoso.com,Gen-Passw0rd!,pending,users.csv,2\n' +
          'a@contoso.com,Gen-Passw0rd!,created,users.csv,2\n',
      );

      const input = join(dir, 'appsettings.agent.json');
      const output = join(dir, 'appsettings.encrypted.agent.json');
      await writeFile(input, JSON.stringify(PLAIN));
      assert.is((await entra(['protect', 'file', input, output, '--certificate', certOnly])).code, 0);
      const settings = await entra(['protect', 'decrypt', '--certificate', pem, '--file', output]);
      assert.is(settings.code, 0, settings.stderr);
      const { EncryptionCertificate: _, ...expected } = PLAIN;
      assert.equal(JSON.parse(settings.stdout), expected);
    }),
);

Decrypt.run();
