/**
 * An emulator in a process of its own for the benchmarks, with the options the CLI does not expose
 * (e.g. a scaled write budget): prints one JSON line when ready, serves until stdin closes or SIGTERM.
 * Lines on stdin control it between runs, each answered by one JSON line on stdout:
 *   `stats`                 Graph requests, 429s and RU charged since the last `stats` (then reset);
 *   `firsts`                the first request (path) of each delta round since the last `stats`;
 *   `latency FIXED JITTER`  delay each answer by FIXED + [0, JITTER) ms;
 *   `throttle on|off`       Graph's RU and write budgets.
 *
 *   node --import tsx bench/emulator-process.ts '<EmulatorOptions as JSON>' SETTINGS_OUT CA_OUT
 */
import { writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { requestCost } from '../src/emulator/throttle.js';
import { startEmulator, type EmulatorOptions } from '../src/emulator/server.js';

const [json, settingsOut, caOut] = process.argv.slice(2);
if (!json || !settingsOut || !caOut)
  throw new Error('usage: emulator-process.ts OPTIONS_JSON SETTINGS_OUT CA_OUT');
const started = performance.now();
// The request log feeds `stats`: kept whole between two `stats`.
const emu = await startEmulator({ requestLogLimit: 10_000_000, ...(JSON.parse(json) as EmulatorOptions) });
writeFileSync(settingsOut, JSON.stringify(emu.settings('Bench'), null, 2), { mode: 0o600 });
writeFileSync(caOut, emu.caPem);
process.stdout.write(
  `${JSON.stringify({ url: emu.url, readyMs: Math.round(performance.now() - started), pid: process.pid })}\n`,
);
const answer = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`);
const stop = () => {
  void emu.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  const [cmd, ...args] = line.trim().split(/\s+/);
  if (cmd === 'stats') {
    let requests = 0;
    let throttled = 0;
    let ru = 0;
    for (const r of emu.requests.splice(0)) {
      if (!/^\/(v1\.0|beta)\//.test(r.path)) continue;
      requests++;
      if (r.status === 429) throttled++;
      // What Graph charges: the cost of every request, throttled ones too (throttling.md).
      const url = new URL(r.path, 'https://x');
      ru += requestCost(r.method, url.pathname, url.searchParams).ru;
    }
    answer({ requests, throttled, ru });
  } else if (cmd === 'firsts') {
    // The first requests of the delta rounds served since the last `stats`.
    const firsts = emu.requests
      .filter(
        (r) => r.status === 200 && /\/delta(\?|$)/.test(r.path) && !/[?&]\$(skip|delta)token=/.test(r.path),
      )
      .map((r) => r.path);
    answer({ firsts });
  } else if (cmd === 'latency') {
    emu.faults.latency = { fixedMs: Number(args[0] ?? 0), jitterMs: Number(args[1] ?? 0) };
    answer({ latency: emu.faults.latency });
  } else if (cmd === 'throttle') {
    emu.throttle.options = { ...emu.throttle.options, enabled: args[0] === 'on' };
    answer({ throttle: emu.throttle.options.enabled });
  } else answer({ error: `unknown command '${line}'` });
});
lines.once('close', stop);
