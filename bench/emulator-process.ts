/**
 * An emulator in a process of its own for the benchmarks, with the options the CLI does not expose
 * (e.g. a scaled write budget): prints one JSON line when ready, serves until stdin closes or SIGTERM.
 *
 *   node --import tsx bench/emulator-process.ts '<EmulatorOptions as JSON>' SETTINGS_OUT CA_OUT
 */
import { writeFileSync } from 'node:fs';
import { startEmulator, type EmulatorOptions } from '../src/emulator/server.js';

const [json, settingsOut, caOut] = process.argv.slice(2);
if (!json || !settingsOut || !caOut)
  throw new Error('usage: emulator-process.ts OPTIONS_JSON SETTINGS_OUT CA_OUT');
const started = performance.now();
const emu = await startEmulator(JSON.parse(json) as EmulatorOptions);
writeFileSync(settingsOut, JSON.stringify(emu.settings('Bench'), null, 2), { mode: 0o600 });
writeFileSync(caOut, emu.caPem);
process.stdout.write(
  `${JSON.stringify({ url: emu.url, readyMs: Math.round(performance.now() - started), pid: process.pid })}\n`,
);
const stop = () => {
  void emu.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
process.stdin.resume();
process.stdin.once('end', stop);
