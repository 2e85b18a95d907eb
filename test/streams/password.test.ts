import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { generatePassword, PASSWORD_CLASSES } from '../../src/streams/password.js';

const GeneratePassword = suite('generatePassword');

const hasEveryClass = (password: string) =>
  PASSWORD_CLASSES.every((set) => [...password].some((c) => set.includes(c)));

GeneratePassword('generatePassword() gives 20 characters of all four classes', () => {
  const password = generatePassword();
  assert.is(password.length, 20);
  assert.ok(hasEveryClass(password), password);
});

GeneratePassword('generatePassword() always has every class and only allowed characters', () => {
  const allowed = new Set(PASSWORD_CLASSES.join(''));
  for (let i = 0; i < 2000; i++) {
    const password = generatePassword({ length: 16 });
    assert.ok(hasEveryClass(password), password);
    assert.ok(
      [...password].every((c) => allowed.has(c)),
      password,
    );
  }
});

GeneratePassword('generatePassword() keeps clear of characters that break CSV, JSON or a shell', () => {
  assert.not.match(PASSWORD_CLASSES.join(''), /[",\\'`\s<>;]/);
});

GeneratePassword('generatePassword() does not repeat itself', () => {
  const seen = new Set(Array.from({ length: 1000 }, () => generatePassword()));
  assert.is(seen.size, 1000);
});

GeneratePassword('generatePassword({length}) honours 16 to 256 and refuses the rest', () => {
  assert.is(generatePassword({ length: 256 }).length, 256);
  for (const length of [15, 8, 257, 16.5])
    assert.throws(
      () => generatePassword({ length }),
      (e: { code?: string }) => e.code === 'ERR_INVALID_OPTION',
    );
});

GeneratePassword('generatePassword({randomInt}) shuffles the class characters with the given source', () => {
  // Always picking index 0 would put the four class characters first, in order, without the shuffle.
  const password = generatePassword({ randomInt: () => 0 });
  assert.is(password.length, 20);
  assert.ok(hasEveryClass(password));
  assert.is.not(password.slice(0, 4), 'aA2!');
});

GeneratePassword.run();
