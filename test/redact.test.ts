import { randomBytes } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { excerpt, forgetSecret, redact, registerSecret } from '../src/redact.js';

const Redact = suite('redact');

Redact('redact(text) masks every registered secret, the longest one first at each position', () => {
  registerSecret('abcdef-short');
  registerSecret('abcdef-short-and-longer');
  registerSecret('tiny');
  assert.is(redact('a abcdef-short-and-longer b abcdef-short c tiny'), 'a *** b *** c tiny');
  forgetSecret('abcdef-short-and-longer');
  forgetSecret('abcdef-short');
  assert.is(redact('abcdef-short'), 'abcdef-short');
});

Redact('redact(text) masks bearer tokens, JWTs and secret form fields that were never registered', () => {
  const jwt = `eyJhbGciOiJSUzI1NiJ9.${'e30'.repeat(4)}.${'c2ln'.repeat(4)}`;
  assert.is(redact(`Authorization: Bearer abc.def`), 'Authorization: Bearer ***');
  assert.is(redact(`token ${jwt} end`), 'token *** end');
  assert.is(redact('client_secret=s3cr3t&scope=x'), 'client_secret=***&scope=x');
});

Redact('redact(text) masks the right secret among a hundred thousand registered ones', () => {
  const secrets = Array.from({ length: 100_000 }, () => randomBytes(15).toString('base64url'));
  for (const s of secrets) registerSecret(s);
  for (let i = 0; i < 1000; i++)
    assert.is(redact(`row ${i}: ${secrets[i * 97]} refused`), `row ${i}: *** refused`);
  for (const s of secrets) forgetSecret(s);
});

Redact.run();

// ---

const Excerpt = suite('excerpt');

Excerpt('excerpt(text, max) quotes a short line whole, else its first characters and its length', () => {
  assert.is(excerpt('Command'), "'Command'");
  assert.is(excerpt('VecJZrxzSnP-o1wu'), "'VecJZrxz…' (16 characters)");
  assert.is(excerpt('0\u0082\t\u0000\ufffdAB', 4), "'0???…' (7 characters)");
});

Excerpt.run();
