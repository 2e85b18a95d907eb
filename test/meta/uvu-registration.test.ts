import { readdir, readFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';

const testDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The tests that a file registers on a uvu suite after calling its `.run()`: uvu never runs them, and
 * says nothing. Returns `file:line name` for each.
 */
export function lateRegistrations(file: string, source: string): string[] {
  const late: string[] = [];
  const suites = [...source.matchAll(/\b(?:const|let)\s+(\w+)\s*=\s*suite\s*[(<]/g)].map((m) => m[1]!);
  if (/import\s*\{[^}]*\btest\b[^}]*\}\s*from\s*'uvu'/.test(source)) suites.push('test');
  for (const name of suites) {
    const run = source.indexOf(`${name}.run()`);
    if (run < 0) {
      late.push(`${file}: suite ${name} is never run`);
      continue;
    }
    for (const m of source
      .slice(run)
      .matchAll(new RegExp(`(?<![\\w.])${name}(?:\\.only|\\.skip)?\\s*\\(`, 'g'))) {
      const line = source.slice(0, run + m.index).split('\n').length;
      late.push(`${file}:${line} ${name}`);
    }
  }
  return late;
}

async function testFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory() && entry.name !== 'fixtures') out.push(...(await testFiles(path)));
    else if (entry.isFile() && entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const Late = suite('lateRegistrations');

Late('lateRegistrations(file) finds a test registered after its suite ran', () => {
  const source = [
    "import { suite } from 'uvu';",
    "const A = suite('a');",
    "A('one', () => {});",
    'A.run();',
    "A('lost', () => {});",
  ].join('\n');
  assert.equal(lateRegistrations('x.test.ts', source), ['x.test.ts:5 A']);
});

Late('lateRegistrations(file) finds a suite that is never run, and accepts a well-formed file', () => {
  assert.equal(lateRegistrations('y.test.ts', "const B = suite('b');\nB('t', () => {});"), [
    'y.test.ts: suite B is never run',
  ]);
  assert.equal(lateRegistrations('z.test.ts', "const C = suite('c');\nC('t', () => {});\nC.run();\n"), []);
});

Late('every test file under test/ registers its tests before its suites run', async () => {
  const late: string[] = [];
  const self = fileURLToPath(import.meta.url);
  // This file's own examples are strings that only look like late registrations.
  for (const file of (await testFiles(testDir)).filter((f) => f !== self))
    late.push(...lateRegistrations(relative(testDir, file), await readFile(file, 'utf8')));
  assert.equal(late, []);
});

Late.run();
