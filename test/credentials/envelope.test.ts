import { createPrivateKey } from 'node:crypto';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { decryptValue, encryptValue, ENVELOPE_PREFIX, isEncrypted } from '../../src/credentials/envelope.js';
import { generateSelfSignedCertificate } from '../../src/emulator/ca.js';

const mine = generateSelfSignedCertificate({ commonName: 'envelope test' });
const other = generateSelfSignedCertificate({ commonName: 'another certificate' });
const key = { privateKey: createPrivateKey(mine.keyPem), thumbprintSha256: mine.thumbprintSha256 };
const otherKey = { privateKey: createPrivateKey(other.keyPem), thumbprintSha256: other.thumbprintSha256 };

/** Header: flags(1) + thumbprint(32) + length(2) + wrapped key(256 for RSA-2048); then iv(12), tag(16), data. */
const HEADER = 1 + 32 + 2 + 256;
const AT = { flags: 0, thumbprint: 1, wrappedKey: 35, iv: HEADER, tag: HEADER + 12, data: HEADER + 28 };

function flip(ciphertext: string, offset: number): string {
  const bytes = Buffer.from(ciphertext.slice(ENVELOPE_PREFIX.length), 'base64');
  bytes[offset] = bytes[offset]! ^ 0x01;
  return ENVELOPE_PREFIX + bytes.toString('base64');
}

function decryptError(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    assert.is((error as { code?: string }).code, 'ERR_DECRYPT');
    assert.is((error as { exitCode?: number }).exitCode, 2);
    return (error as Error).message;
  }
  throw new Error('no ERR_DECRYPT');
}

const RoundTrip = suite('encryptValue + decryptValue');

for (const [name, value] of [
  ['an empty value', ''],
  ['a short value', 's3cret!'],
  ['a unicode value', 'pässwörd ✓ 🔐 日本語 \u0000 end'],
  ['a 1 MiB value', 'x'.repeat(1024 * 1024)],
] as const)
  RoundTrip(`decryptValue(encryptValue(v)) gives back ${name}`, () => {
    const ciphertext = encryptValue(value, mine.certPem);
    assert.ok(ciphertext.startsWith(ENVELOPE_PREFIX));
    assert.is(decryptValue(ciphertext, key), value);
  });

RoundTrip('encryptValue(v) gives a different ciphertext each time (fresh key and IV)', () => {
  assert.is.not(encryptValue('same', mine.certPem), encryptValue('same', mine.certPem));
});

RoundTrip('decryptValue(c, KeyObject) works without a thumbprint', () => {
  assert.is(decryptValue(encryptValue('abc', mine.certPem), key.privateKey), 'abc');
});

RoundTrip('decryptValue(c) ignores surrounding white space (a pasted value)', () => {
  assert.is(decryptValue(` ${encryptValue('abc', mine.certPem)}\n`, key), 'abc');
});

RoundTrip.run();

// ---

const Binding = suite('encryptValue(v, cert, { key })');

Binding('a bound value decrypts with the same key, ignoring case', () => {
  const c = encryptValue('v', mine.certPem, { key: 'Connections:Contoso:ApplicationKey' });
  assert.is(decryptValue(c, key, { key: 'connections:contoso:applicationkey' }), 'v');
});

Binding('a bound value moved to another key fails, naming the key', () => {
  const c = encryptValue('v', mine.certPem, { key: 'Connections:Contoso:ApplicationKey' });
  const message = decryptError(() => decryptValue(c, key, { key: 'MailSettings:To' }));
  assert.match(message, /^MailSettings:To: cannot decrypt: authentication failed/);
  assert.match(message, /another key/);
});

Binding('a bound value without a key asks for it', () => {
  const c = encryptValue('v', mine.certPem, { key: 'A:B' });
  assert.match(
    decryptError(() => decryptValue(c, key)),
    /bound to a setting key/,
  );
});

Binding('an unbound value decrypts whatever key it is read for', () => {
  assert.is(decryptValue(encryptValue('v', mine.certPem), key, { key: 'A:B' }), 'v');
});

Binding('the bound flag cannot be cleared undetected', () => {
  const c = encryptValue('v', mine.certPem, { key: 'A:B' });
  assert.match(
    decryptError(() => decryptValue(flip(c, AT.flags), key)),
    /altered/,
  );
});

Binding.run();

// ---

const Errors = suite('decryptValue errors');

Errors(
  'decryptValue(c) for another certificate names both thumbprints and the key, before decrypting',
  () => {
    const c = encryptValue('secret value', mine.certPem, { key: 'Connections:Contoso:ApplicationKey' });
    const message = decryptError(() =>
      decryptValue(c, otherKey, { key: 'Connections:Contoso:ApplicationKey' }),
    );
    assert.match(message, /^Connections:Contoso:ApplicationKey: cannot decrypt: encrypted for certificate /);
    assert.ok(message.includes(mine.thumbprintSha256));
    assert.ok(message.includes(other.thumbprintSha256));
    assert.not.ok(message.includes('secret value'));
  },
);

Errors('decryptValue(c, wrong KeyObject) without a thumbprint says the key does not open it', () => {
  const c = encryptValue('v', mine.certPem);
  const message = decryptError(() => decryptValue(c, otherKey.privateKey, { label: 'value 2' }));
  assert.match(message, /^value 2: cannot decrypt: the private key does not open it/);
  assert.ok(message.includes(mine.thumbprintSha256));
});

for (const part of ['data', 'tag', 'iv', 'wrappedKey', 'thumbprint'] as const)
  Errors(`decryptValue(c) with a tampered ${part} fails with ERR_DECRYPT`, () => {
    const plaintext = 'do not show me';
    const c = encryptValue(plaintext, mine.certPem, { key: 'K' });
    const message = decryptError(() => decryptValue(flip(c, AT[part]), key, { key: 'K' }));
    assert.match(message, part === 'thumbprint' ? /encrypted for certificate/ : /altered/);
    assert.not.ok(message.includes(plaintext));
  });

Errors('decryptValue(c) with a truncated value says so', () => {
  const c = encryptValue('v', mine.certPem);
  assert.match(
    decryptError(() => decryptValue(c.slice(0, ENVELOPE_PREFIX.length + 48), key)),
    /truncated/,
  );
});

Errors('decryptValue(plain) says the value is not encrypted', () => {
  assert.match(
    decryptError(() => decryptValue('hunter2', key, { key: 'X:Y' })),
    /^X:Y: .*not an encrypted value/,
  );
});

Errors('decryptValue(enc:v2:...) names the unknown version', () => {
  const c = encryptValue('v', mine.certPem).replace('enc:v1:', 'enc:v2:');
  assert.match(
    decryptError(() => decryptValue(c, key)),
    /unknown format enc:v2/,
  );
});

Errors('decryptValue(not base64) says it is malformed', () => {
  assert.match(
    decryptError(() => decryptValue('enc:v1:@@@@', key)),
    /malformed/,
  );
});

Errors.run();

// ---

const IsEncrypted = suite('isEncrypted');

IsEncrypted('isEncrypted(v) is true for enc:v1: and any other enc:vN: value, false for plain text', () => {
  assert.ok(isEncrypted(encryptValue('v', mine.certPem)));
  assert.ok(isEncrypted('enc:v9:AAAA'));
  assert.not.ok(isEncrypted('enc'));
  assert.not.ok(isEncrypted('s3cret'));
  assert.not.ok(isEncrypted(''));
});

IsEncrypted.run();
