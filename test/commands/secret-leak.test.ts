import { spawn } from 'node:child_process';
import { createPrivateKey, randomBytes, randomUUID } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { startEmulate, type RunningEmulator } from '../../src/commands/emulate.js';
import { CYBERARK_SAFE, KEY_VAULT_NAME } from '../../src/commands/emulate-credentials.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';
import { ALL_ROLES } from '../../src/emulator/server.js';
import { decryptPasswordCsv } from '../../src/sinks/password-encrypted-file.js';
import { entraArgs } from '../helpers/cli.js';
import { testTls } from '../helpers/identity-server.js';

/**
 * Secret hygiene, end to end: export, fulfill (creating users with generated passwords) and doctor,
 * all with --verbose, as child processes signing in every way there is; then every byte they wrote
 * (stdout, stderr, every file) is searched for every secret. The password file is the one protected
 * sink, and an encrypted one holds no password in clear.
 */

const JWT = /eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/;

interface Exit {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `entra <args>` run in `cwd` as a child process, trusting the emulator's CA by NODE_EXTRA_CA_CERTS. */
function entra(cwd: string, caFile: string, args: string[], env: Record<string, string> = {}) {
  return new Promise<Exit>((resolve, reject) => {
    const inherited = Object.entries(process.env).filter(
      ([k]) => !/^(NODE_EXTRA_CA_CERTS|IDENTITY_|Connections__|AzureKeyVault__|CyberArk__)/i.test(k),
    );
    const child = spawn(process.execPath, [...entraArgs(), ...args], {
      cwd,
      env: { ...Object.fromEntries(inherited), NODE_EXTRA_CA_CERTS: caFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** Every file under `dir`, by path relative to it. */
async function filesUnder(dir: string, base = dir): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) for (const [k, v] of await filesUnder(path, base)) files.set(k, v);
    else files.set(path.slice(base.length + 1), await readFile(path));
  }
  return files;
}

const writeJson = (path: string, json: unknown) =>
  writeFile(path, `${JSON.stringify(json, null, 2)}\n`, { mode: 0o600 });

const Leak = suite('secret hygiene (CLI)');

Leak('export, fulfill and doctor with --verbose write no secret, token or password anywhere', async () => {
  const root = await mkdtemp(join(tmpdir(), 'secret-leak-'));
  const inputs = join(root, 'inputs');
  const work = join(root, 'work');
  await mkdir(work);
  // Three apps, three secrets: the default app's (it also reads Key Vault), one kept in Key Vault and
  // one kept in CyberArk, so that each can be told apart in the output.
  const kvApp = { clientId: randomUUID(), secret: `kv~${randomBytes(18).toString('base64url')}` };
  const caApp = { clientId: randomUUID(), secret: `ca~${randomBytes(18).toString('base64url')}` };
  let running: RunningEmulator | undefined;
  try {
    running = await startEmulate(
      {
        throttle: false,
        keyVault: true,
        cyberark: join(inputs, 'cyberark'),
        certificateOut: join(inputs, 'certs'),
        caOut: join(inputs, 'ca.pem'),
      },
      {
        tls: testTls(),
        apps: [kvApp, caApp].map((a) => ({ clientId: a.clientId, secrets: [a.secret], roles: ALL_ROLES })),
      },
    );
    const { emu } = running;
    const caFile = join(inputs, 'ca.pem');
    emu.keyVault.setSecret(KEY_VAULT_NAME, 'Connections--Contoso--ApplicationKey', kvApp.secret);
    emu.cyberArk!.setObject(CYBERARK_SAFE, 'Contoso-ApplicationKey', { Content: caApp.secret });
    const pfxPassword = await readFile(join(inputs, 'certs', 'app.pfx.password'), 'utf8');
    const base = (emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } }).Connections
      .Contoso;
    const connection = (extra: Record<string, string | undefined>) => {
      const c: Record<string, string> = { ...base };
      delete c.ApplicationKey;
      for (const [k, v] of Object.entries(extra)) if (v !== undefined) c[k] = v;
      return { Contoso: c };
    };

    // One folder per settings file: the encrypted and CyberArk files are siblings of the plain one.
    const settings = (name: string) => join(inputs, name, 'appsettings.agent.json');
    for (const name of ['kv', 'cyberark-conn', 'cert', 'enc', 'plain']) await mkdir(join(inputs, name));
    await writeJson(settings('kv'), {
      Connections: connection({ ApplicationId: kvApp.clientId }),
      AzureKeyVault: {
        Vault: emu.keyVault.url(KEY_VAULT_NAME),
        Authentication: 'ClientSecret',
        TenantId: emu.tenantId,
        ApplicationId: emu.clientId,
        ApplicationKey: emu.clientSecret,
        MicrosoftAuthorityPath: `${emu.url}/{0}`,
      },
    });
    await writeJson(settings('cyberark-conn'), {
      Connections: connection({ ApplicationId: caApp.clientId }),
      CyberArk: {
        Server: emu.cyberArk!.url,
        ApplicationId: 'EntraConnector',
        SafeName: CYBERARK_SAFE,
        ClientCertificate: '../cyberark/client.pem',
        ClientCertificateKey: '../cyberark/client-key.pem',
        CaFile: '../ca.pem',
      },
    });
    await writeJson(join(inputs, 'cyberark-conn', 'appsettings.cyberark.agent.json'), {
      Connections: { Contoso: { ApplicationKey: 'Contoso-ApplicationKey' } },
    });
    await writeJson(settings('cert'), {
      Connections: connection({ CertificatePath: '../certs/app.pfx' }),
    });
    const enc = generateSelfSignedCertificate({ commonName: 'password encryption' });
    await writeFile(join(inputs, 'enc', 'enc.crt'), enc.certPem);
    await writeJson(settings('enc'), {
      Connections: connection({ ApplicationKey: emu.clientSecret }),
      EncryptionCertificate: { File: 'enc.crt' },
    });
    await writeJson(settings('plain'), { Connections: connection({ ApplicationKey: emu.clientSecret }) });
    const users = (n: string) =>
      [
        'Command,@odata.type,id,displayName,userPrincipalName,mailNickname,accountEnabled',
        `insert,#microsoft.graph.user,,Leak ${n},leak${n}@contoso.onmicrosoft.com,leak${n},true`,
        '',
      ].join('\n');
    await writeFile(join(inputs, 'users-1.csv'), users('one'));
    await writeFile(join(inputs, 'users-2.csv'), users('two'));

    const wrongSecret = `wrong~${randomBytes(18).toString('base64url')}`;
    const runs: [string, Exit, number][] = [];
    const run = async (what: string, expected: number, args: string[], env: Record<string, string> = {}) =>
      runs.push([what, await entra(work, caFile, [...args, '--verbose'], env), expected]);
    await run('export (Key Vault)', 0, ['export', '--settings', settings('kv')]);
    await run('fulfill (CyberArk)', 0, [
      'fulfill',
      join(inputs, 'users-1.csv'),
      '--settings',
      settings('cyberark-conn'),
      '--password-file',
      'passwords.csv',
      '--results',
      'results.csv',
      '--journal',
      'run.journal',
    ]);
    await run('doctor (PFX)', 0, ['doctor', '--settings', settings('cert')], {
      Connections__Contoso__CertificatePassword: pfxPassword,
    });
    await run('fulfill (encrypted password file)', 0, [
      'fulfill',
      join(inputs, 'users-2.csv'),
      '--settings',
      settings('enc'),
      '--password-file',
      'encrypted-passwords.csv',
      '--format',
      'ndjson',
    ]);
    await run(
      'export (refused secret)',
      1,
      ['export', '--settings', settings('plain'), '--output', 'refused'],
      {
        Connections__Contoso__ApplicationKey: wrongSecret,
      },
    );
    for (const [what, exit, expected] of runs) assert.is(exit.code, expected, `${what}: ${exit.stderr}`);
    // --verbose did trace requests, and the refused run said why.
    assert.match(runs[0]![1].stderr, /GET .*\/v1\.0\/users\/delta/);
    assert.match(runs[4]![1].stderr, /ERR_AUTH: .*AADSTS7000215/);
    // msal's lines come without its date and correlation id, and not the warning every app-only token gets.
    for (const [what, exit] of runs) {
      assert.not.match(exit.stderr, /No client info in response/, what);
      assert.not.match(exit.stderr, /@azure\/msal-node@/, what);
    }

    const files = await filesUnder(work);
    assert.ok(files.has('ExportOutput/Contoso_directoryobjects.csv') && files.has('run.journal'));
    const plainFile = files.get('passwords.csv')!.toString('utf8');
    assert.is((await stat(join(work, 'passwords.csv'))).mode & 0o777, 0o600);
    assert.is((await stat(join(work, 'encrypted-passwords.csv'))).mode & 0o777, 0o600);
    const generated = parse<{ password: string; state: string }>(plainFile, { columns: true });
    assert.equal(
      generated.map((r) => r.state),
      ['pending', 'created'],
    );
    const password = generated[0]!.password;
    const decrypted = parse<{ password: string; state: string }>(
      decryptPasswordCsv(
        files.get('encrypted-passwords.csv')!.toString('utf8'),
        { privateKey: createPrivateKey(enc.keyPem) },
        'encrypted-passwords.csv',
      ),
      { columns: true },
    );
    const encryptedPassword = decrypted.at(-1)!.password;
    assert.is(decrypted.at(-1)!.state, 'created');
    assert.ok(password.length >= 16 && encryptedPassword.length >= 16);

    const secrets: Record<string, string> = {
      'client secret': emu.clientSecret,
      'Key Vault secret': kvApp.secret,
      'CyberArk secret': caApp.secret,
      'certificate password': pfxPassword,
      'refused secret': wrongSecret,
      'encrypted-file password': encryptedPassword,
      'certificate private key': (await readFile(join(inputs, 'certs', 'app.pem'), 'utf8'))
        .split('\n')
        .find((l, i, all) => all[i - 1]?.includes('BEGIN PRIVATE KEY'))!,
    };
    const outputs = new Map<string, string>();
    for (const [what, exit] of runs) {
      outputs.set(`${what} stdout`, exit.stdout);
      outputs.set(`${what} stderr`, exit.stderr);
    }
    for (const [name, bytes] of files) outputs.set(name, bytes.toString('utf8'));
    // The search does see what the runs wrote (the tenant id is everywhere).
    assert.ok([...outputs.values()].filter((t) => t.includes(emu.tenantId)).length >= 5);
    for (const [where, text] of outputs) {
      for (const [what, secret] of Object.entries(secrets))
        assert.not.ok(text.includes(secret), `${what} in ${where}`);
      assert.not.match(text, JWT, `an access token in ${where}`);
      if (where !== 'passwords.csv')
        assert.not.ok(text.includes(password), `the generated password in ${where}`);
    }
    assert.ok(plainFile.includes(password));
  } finally {
    await running?.close();
    await rm(root, { recursive: true, force: true });
  }
});

Leak.run();
