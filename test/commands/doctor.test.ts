import { randomUUID } from 'node:crypto';
import { createServer, type AddressInfo } from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { doctorCommand, type DoctorArgs, type DoctorReport } from '../../src/commands/doctor.js';
import type { Emulator } from '../../src/emulator/server.js';
import { sampleTenant, withEmulator } from '../helpers/emulator.js';
import { textSink } from '../helpers/export-harness.js';

/** An app with read permissions on users only, and one with no permission at all. */
const LIMITED = { clientId: randomUUID(), secret: `limited~${randomUUID()}` };
const BARE = { clientId: randomUUID(), secret: `bare~${randomUUID()}` };

interface Fixture {
  emu: Emulator;
  dir: string;
  /** `entra doctor` with the settings of `app` (the emulator's own by default). */
  doctor: (
    args?: Partial<DoctorArgs>,
    env?: NodeJS.ProcessEnv,
    app?: { clientId: string; secret: string },
  ) => Promise<{ code: number; out: string }>;
}

async function run(fn: (f: Fixture) => Promise<void>): Promise<void> {
  await withEmulator(
    {
      tenant: await sampleTenant(),
      apps: [
        { clientId: LIMITED.clientId, secrets: [LIMITED.secret], roles: ['User.Read.All'] },
        { clientId: BARE.clientId, secrets: [BARE.secret], roles: [] },
      ],
    },
    async (emu) => {
      const dir = await mkdtemp(join(tmpdir(), 'doctor-'));
      try {
        await writeFile(join(dir, 'ca.pem'), emu.caPem);
        await fn({
          emu,
          dir,
          async doctor(args = {}, env = {}, app = { clientId: emu.clientId, secret: emu.clientSecret }) {
            const settings = emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } };
            Object.assign(settings.Connections.Contoso, {
              ApplicationId: app.clientId,
              ApplicationKey: app.secret,
            });
            const file = join(dir, `${app.clientId}.json`);
            await writeFile(file, JSON.stringify(settings), { mode: 0o600 });
            const out = textSink();
            const code = await doctorCommand(
              { settings: file, ca: join(dir, 'ca.pem'), quiet: true, ...args },
              env,
              out,
            );
            return { code, out: out.text };
          },
        });
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
}

const verdicts = (out: string) =>
  out
    .split('\n')
    .filter((l) => /^(OK|WARN|FAIL) /.test(l))
    .map((l) => l.replace(/: .*/, '').replace(/\s+/, ' '));

const Doctor = suite('doctorCommand');

Doctor('doctorCommand(healthy app) says OK to every check, masks the secret, exits 0', () =>
  run(async ({ emu, doctor }) => {
    const { code, out } = await doctor();
    assert.is(code, 0, out);
    assert.equal(verdicts(out), [
      'OK settings',
      'OK token',
      'OK app roles',
      'OK export user',
      'OK export group',
      'OK export directoryRole',
      'OK export servicePrincipal',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK fulfill',
      'OK read licence SKUs',
      'OK delta user',
      'OK delta group',
      'OK delta directoryRole',
      'OK delta servicePrincipal',
    ]);
    assert.match(out, /\n {7}ApplicationKey = \*\*\* \(set\) {2}\[.*\.json\]\n/);
    assert.match(out, /OK {3}token: obtained with the client secret from https:\/\/127\.0\.0\.1:\d+\//);
    assert.match(out, /OK {3}delta user: first page: \d+ objects in \d+ ms/);
    assert.ok(out.endsWith('verdict: ready\n'));
    assert.not.ok(out.includes(emu.clientSecret));
    assert.not.match(out, /eyJ[A-Za-z0-9_-]{8,}\./);
  }),
);

Doctor(
  'doctorCommand(app with User.Read.All only) fails the entities it cannot read, warns for fulfill, exits 1',
  () =>
    run(async ({ doctor }) => {
      const { code, out } = await doctor({ entities: ['user', 'group'] }, {}, LIMITED);
      assert.is(code, 1, out);
      assert.match(out, /\nOK {3}app roles: User\.Read\.All\n/);
      assert.match(out, /\nOK {3}export user: allowed by User\.Read\.All\n/);
      assert.match(out, /\nFAIL export group: needs one of GroupMember\.Read\.All, Group\.Read\.All, /);
      assert.match(
        out,
        /\nWARN fulfill: create users: needs one of User\.Create, User\.ReadWrite\.All, Directory\.ReadWrite\.All \(only if you fulfill such rows\)\n/,
      );
      assert.match(
        out,
        /\nWARN fulfill: invite guests \(invitedUserEmailAddress cells\): needs one of User\.Invite\.All, /,
      );
      assert.match(
        out,
        /\nWARN read licence SKUs: needs one of LicenseAssignment\.Read\.All, Organization\.Read\.All, .* \(only for entra skus and skuPartNumbers in assignedLicenses cells\)\n/,
      );
      assert.match(out, /\nOK {3}delta user: first page/);
      assert.match(out, /\nFAIL delta group: .*403/);
      assert.ok(out.endsWith('verdict: problems found (see FAIL lines)\n'));
      assert.not.ok(out.includes(LIMITED.secret));
    }),
);

Doctor('doctorCommand(app without permissions) warns that the token carries none', () =>
  run(async ({ doctor }) => {
    const { code, out } = await doctor({ entities: ['user'] }, {}, BARE);
    assert.is(code, 1, out);
    assert.match(out, /\nWARN app roles: the token carries no application permissions\n/);
    assert.match(out, /\nFAIL export user: needs one of User\.Read\.All/);
  }),
);

Doctor('doctorCommand shows where each value came from: file, environment, command line, default', () =>
  run(async ({ emu, doctor }) => {
    const { code, out } = await doctor(
      { entities: ['user'], setting: [`Connections:Contoso:TenantId=${emu.tenantId}`] },
      { Connections__Contoso__ApplicationKey: emu.clientSecret },
    );
    assert.is(code, 0, out);
    assert.match(out, /\n {7}layers \(later wins\): .*\.json < environment < command line\n/);
    assert.match(out, /\n {7}ApplicationId = [0-9a-f-]{36} {2}\[.*\.json\]\n/);
    assert.match(out, /\n {7}TenantId = [0-9a-f-]{36} {2}\[command line\]\n/);
    assert.match(out, /\n {7}ApplicationKey = \*\*\* \(set\) {2}\[environment\]\n/);
    assert.match(
      out,
      /\n {7}MicrosoftGraphPath = https:\/\/graph\.microsoft\.com\/\.default {2}\[default\]\n/,
    );
    assert.not.ok(out.includes(emu.clientSecret));
  }),
);

Doctor(
  'doctorCommand(wrong secret) fails the token check without showing the secret; bad settings exit 2',
  () =>
    run(async ({ dir, doctor }) => {
      const wrong = `wrong~${randomUUID()}`;
      const refused = await doctor({}, { Connections__Contoso__ApplicationKey: wrong });
      assert.is(refused.code, 1, refused.out);
      assert.match(
        refused.out,
        /\nFAIL token: cannot get an access token .*AADSTS7000215: .*Check ApplicationKey/,
      );
      assert.not.ok(refused.out.includes(wrong));
      assert.not.match(refused.out, /\n(OK|FAIL) {1,3}delta/);
      assert.ok(refused.out.endsWith('verdict: problems found (see FAIL lines)\n'), refused.out);

      const out = textSink();
      const code = await doctorCommand({ settings: join(dir, 'missing.json'), quiet: true }, {}, out);
      assert.is(code, 2);
      assert.match(out.text, /^FAIL settings: settings file not found: .*missing\.json/);
      assert.ok(out.text.endsWith('verdict: the settings cannot be read (see the FAIL line)\n'), out.text);
    }),
);

Doctor(
  'doctorCommand(unreachable Graph) retries each request once, skips the other entities, and says so',
  () =>
    run(async ({ emu, dir }) => {
      // A host that takes connections and drops them at once: what a dead proxy or a firewall does.
      let connections = 0;
      const dead = createServer((socket) => {
        connections++;
        socket.destroy();
      });
      await new Promise<void>((done) => dead.listen(0, '127.0.0.1', done));
      try {
        const { port } = dead.address() as AddressInfo;
        const settings = emu.settings('Contoso') as { Connections: { Contoso: Record<string, string> } };
        settings.Connections.Contoso.MicrosoftGraphPathApi = `https://127.0.0.1:${port}/v1.0/`;
        const file = join(dir, 'unreachable.json');
        await writeFile(file, JSON.stringify(settings), { mode: 0o600 });
        const out = textSink();
        const code = await doctorCommand({ settings: file, ca: join(dir, 'ca.pem'), quiet: true }, {}, out);
        assert.is(code, 1, out.text);
        assert.match(out.text, /\nOK {3}token: /);
        assert.match(
          out.text,
          /\nFAIL delta user: GET https:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\/delta.* failed after 2 attempts: /,
        );
        for (const entity of ['group', 'directoryRole', 'servicePrincipal'])
          assert.match(
            out.text,
            new RegExp(
              `\\nFAIL delta ${entity}: not tried: Graph at 127\\.0\\.0\\.1:${port} did not answer \\(see delta user\\)\\n`,
            ),
          );
        assert.is(connections, 2, 'one request and one retry, for the first entity only');
        assert.ok(out.text.endsWith('verdict: problems found (see FAIL lines)\n'));
      } finally {
        dead.close();
      }
    }),
);

Doctor(
  'doctorCommand --json: one document with every check, the same verdicts as the lines, the same exit codes',
  () =>
    run(async ({ emu, doctor }) => {
      const lines = await doctor();
      const healthy = await doctor({ json: true });
      assert.is(healthy.code, 0, healthy.out);
      const report = JSON.parse(healthy.out) as DoctorReport;
      assert.is(report.verdict, 'ready');
      assert.is(report.connection, 'Contoso');
      assert.equal(
        report.checks.map((c) => `${c.verdict} ${c.check.replace(/:.*/, '')}`),
        verdicts(lines.out),
      );
      assert.equal(
        report.settings?.find((v) => v.key === 'ApplicationKey'),
        { key: 'ApplicationKey', value: '*** (set)', origin: report.settingsFile! },
      );
      assert.not.ok(healthy.out.includes(emu.clientSecret));
      assert.not.match(healthy.out, /eyJ[A-Za-z0-9_-]{8,}\./);

      const limited = await doctor({ json: true, entities: ['user', 'group'] }, {}, LIMITED);
      assert.is(limited.code, 1);
      const problems = JSON.parse(limited.out) as DoctorReport;
      assert.is(problems.verdict, 'problems');
      assert.ok(problems.checks.some((c) => c.verdict === 'FAIL' && c.check === 'delta group'));
      assert.not.ok(limited.out.includes(LIMITED.secret));

      const missing = await doctor({ json: true, connection: 'Nope' });
      assert.is(missing.code, 2);
      const unreadable = JSON.parse(missing.out) as DoctorReport;
      assert.is(unreadable.verdict, 'settings');
      assert.equal(
        unreadable.checks.map((c) => c.verdict),
        ['FAIL'],
      );
    }),
);

Doctor.run();
