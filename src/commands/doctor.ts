import { EXIT, ToolError } from '../errors.js';
import { READ_ROLES, SKU_READ_ROLES, tokenRoles, WRITE_ROLES } from '../graph/permissions.js';
import { entityInfo } from '../graph/schema.js';
import { redact } from '../redact.js';
import { readCaFile } from '../settings/ca-file.js';
import { resolveMapping, selectQuery } from '../settings/mapping.js';
import { connect, settingsLayers } from './connection.js';
import { stderrLogger, type CommonOptions } from './process-io.js';

export interface DoctorArgs extends CommonOptions {
  settings?: string;
  setting?: string[];
  connection?: string;
  ca?: string;
  entities?: string[];
  /** One JSON document on stdout instead of the lines: every check, and the verdict. */
  json?: boolean;
}

/** `entra doctor --json`: what the lines say, as one document (exit codes unchanged). */
export interface DoctorReport {
  /** ready: every check passed (WARNs allowed); problems: a check failed; settings: they cannot be read. */
  verdict: 'ready' | 'problems' | 'settings';
  connection?: string;
  settingsFile?: string;
  /** Settings layers in precedence order, the last one wins. */
  layers?: string[];
  /** The values doctor shows, secrets as `*** (set)`, with the layer each came from. */
  settings?: { key: string; value: string; origin: string }[];
  checks: { verdict: Verdict; check: string; detail: string }[];
}

type Verdict = 'OK' | 'WARN' | 'FAIL';

/**
 * Doctor answers within seconds: a host that does not answer gets one retry after 10 s (one that
 * trickles its answer, after 30 s), not the minutes of backoff a run gives a throttled or flaky Graph.
 */
const DOCTOR_LIMITS = { timeoutMs: 10_000, answerTimeoutMs: 30_000, retries: 1 };
const PROBLEMS = 'verdict: problems found (see FAIL lines)\n';

const SECRET_KEYS = new Set(['ApplicationKey', 'CertificatePassword']);

/**
 * `entra doctor`: checks a connection end to end without changing anything: settings (with where
 * each value came from, secrets masked), a token, the token's app roles against what export and
 * fulfill need, and one delta page per entity. One verdict line per check on stdout.
 */
export async function doctorCommand(
  args: DoctorArgs,
  env: NodeJS.ProcessEnv = process.env,
  out: NodeJS.WritableStream = process.stdout,
): Promise<number> {
  const log = stderrLogger({ ...args, quiet: true });
  let failed = false;
  const report: DoctorReport = { verdict: 'ready', checks: [] };
  // The text lines; with --json, one document at the end instead.
  const text = (s: string) => {
    if (!args.json) out.write(`${redact(s)}\n`);
  };
  const line = (verdict: Verdict, check: string, detail: string) => {
    if (verdict === 'FAIL') failed = true;
    report.checks.push({ verdict, check, detail: redact(detail) });
    text(`${verdict.padEnd(4)} ${check}: ${detail}`);
  };
  const verdict = (v: DoctorReport['verdict'], textLine: string) => {
    report.verdict = v;
    if (args.json) out.write(`${redact(JSON.stringify(report, null, 2))}\n`);
    else out.write(textLine);
  };
  const ca = args.ca ? await readCaFile(args.ca) : undefined;
  const mapping = resolveMapping(args.entities?.length ? { entities: args.entities } : {});

  let connection;
  let origins: string[];
  try {
    const { layers, file } = await settingsLayers(args, env, { logger: log, ...(ca ? { ca } : {}) });
    origins = layers.map((l) => l.origin);
    connection = connect(layers, {
      ...(args.connection ? { connection: args.connection } : {}),
      ...(ca ? { ca } : {}),
      logger: log,
      settingsFile: file,
      limits: DOCTOR_LIMITS,
      env,
    });
  } catch (e) {
    if (!(e instanceof ToolError)) throw e;
    line('FAIL', 'settings', e.message);
    verdict('settings', 'verdict: the settings cannot be read (see the FAIL line)\n');
    return e.exitCode;
  }
  const { settings, client, tokens } = connection;
  try {
    Object.assign(report, { connection: settings.name, settingsFile: connection.settingsFile });
    report.layers = origins.map((o) => redact(o));
    report.settings = [];
    line('OK', 'settings', `connection "${settings.name}" from ${connection.settingsFile}`);
    // Layers in precedence order, the last one wins: where a value below comes from is one of them.
    text(`       layers (later wins): ${origins.join(' < ')}`);
    const shown: [string, string | undefined][] = [
      ['ApplicationId', settings.applicationId],
      ['TenantId', settings.tenantId],
      ['ApplicationKey', settings.applicationKey],
      ['CertificatePath', settings.certificatePath],
      ['CertificatePassword', settings.certificatePassword],
      ['CertificateThumbprint', settings.certificateThumbprint],
      ['ClientAssertionFile', settings.clientAssertionFile],
      ['ManagedIdentity', settings.managedIdentity ? 'true' : undefined],
      ['MicrosoftAuthorityPath', settings.authority],
      ['MicrosoftGraphPath', settings.scope],
      ['MicrosoftGraphPathApi', settings.graphUrl],
    ];
    for (const [key, value] of shown)
      if (value !== undefined) {
        const shownValue = redact(SECRET_KEYS.has(key) ? '*** (set)' : value);
        const origin = settings.origins[key] ?? 'default';
        report.settings.push({ key, value: shownValue, origin: redact(origin) });
        text(`       ${key} = ${shownValue}  [${origin}]`);
      }

    let token: string;
    const started = performance.now();
    try {
      token = await tokens.getToken();
    } catch (e) {
      line('FAIL', 'token', e instanceof Error ? e.message : String(e));
      verdict('problems', PROBLEMS);
      return EXIT.failure;
    }
    const { roles, claims } = tokenRoles(token);
    const expires = typeof claims.exp === 'number' ? new Date(claims.exp * 1000).toISOString() : 'unknown';
    const from = settings.managedIdentity ? 'the managed-identity endpoint' : settings.authority;
    line(
      'OK',
      'token',
      `obtained with the ${connection.credential} from ${from} in ${Math.round(performance.now() - started)} ms, expires ${expires}`,
    );
    line(
      roles.length ? 'OK' : 'WARN',
      'app roles',
      roles.length ? roles.join(', ') : 'the token carries no application permissions',
    );

    for (const m of mapping.entities) {
      const allowed = READ_ROLES[m.entity];
      const held = allowed.filter((r) => roles.includes(r));
      line(
        held.length ? 'OK' : 'FAIL',
        `export ${m.entity}`,
        held.length ? `allowed by ${held[0]}` : `needs one of ${allowed.join(', ')}`,
      );
    }
    for (const w of WRITE_ROLES) {
      const held = w.roles.filter((r) => roles.includes(r));
      line(
        held.length ? 'OK' : 'WARN',
        `fulfill: ${w.what}`,
        held.length
          ? `allowed by ${held[0]}`
          : `needs one of ${w.roles.join(', ')} (only if you fulfill such rows)`,
      );
    }
    const skuRole = SKU_READ_ROLES.find((r) => roles.includes(r));
    line(
      skuRole ? 'OK' : 'WARN',
      'read licence SKUs',
      skuRole
        ? `allowed by ${skuRole}`
        : `needs one of ${SKU_READ_ROLES.join(', ')} (only for entra skus and skuPartNumbers in assignedLicenses cells)`,
    );

    // After a host that did not answer, the other entities would only wait for it again.
    let unreachable: string | undefined;
    for (const m of mapping.entities) {
      const url = `${entityInfo(m.entity).collection}/delta?$select=${selectQuery(m)}`;
      const t0 = performance.now();
      if (unreachable) {
        line('FAIL', `delta ${m.entity}`, unreachable);
        continue;
      }
      try {
        const page = await client.get<{ value?: unknown[] }>(url);
        line(
          'OK',
          `delta ${m.entity}`,
          `first page: ${page.body.value?.length ?? 0} objects in ${Math.round(performance.now() - t0)} ms`,
        );
      } catch (e) {
        line('FAIL', `delta ${m.entity}`, e instanceof Error ? e.message : String(e));
        if (e instanceof ToolError && e.code === 'ERR_GRAPH_NETWORK')
          unreachable = `not tried: Graph at ${new URL(settings.graphUrl).host} did not answer (see delta ${m.entity})`;
      }
    }
  } finally {
    client.close();
  }
  verdict(failed ? 'problems' : 'ready', failed ? PROBLEMS : 'verdict: ready\n');
  return failed ? EXIT.failure : EXIT.ok;
}
