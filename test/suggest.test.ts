import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { closest, didYouMean, editDistance } from '../src/suggest.js';

const Distance = suite('editDistance');

Distance('editDistance(a, b) counts insertions, deletions, substitutions and swaps', () => {
  assert.is(editDistance('displayNme', 'displayName'), 1);
  assert.is(editDistance('exprot', 'export'), 1);
  assert.is(editDistance('usr', 'user'), 1);
  assert.is(editDistance('', 'abc'), 3);
  assert.is(editDistance('kitten', 'sitting'), 3);
  assert.is(editDistance('same', 'same'), 0);
});

Distance.run();

// ---

const Closest = suite('closest');

Closest('closest(input, candidates) prefers the same name in another case', () => {
  assert.is(closest('DISPLAYNAME', ['displayNam', 'displayName']), 'displayName');
});

Closest('closest(input, candidates) finds a near miss, and nothing for a far one', () => {
  const options = ['ignore-cookies', 'output', 'cookies', 'connection'];
  assert.is(closest('ignore-cookie', options), 'ignore-cookies');
  assert.is(closest('outptu', options), 'output');
  assert.is(closest('xyz', options), undefined);
  assert.is(closest('usr', ['user', 'group']), 'user');
  assert.is(closest('displayNme', ['mail', 'displayName', 'givenName']), 'displayName');
});

Closest('closest(input, candidates) completes a prefix only when one candidate has it', () => {
  assert.is(closest('ignore', ['ignore-cookies', 'output']), 'ignore-cookies');
  assert.is(closest('mail', ['mailNickname', 'mailEnabled']), undefined);
  assert.is(closest('ig', ['ignore-cookies']), undefined);
});

Closest.run();

// ---

const Mean = suite('didYouMean');

Mean("didYouMean(input, candidates, quote) says the hint in the caller's quoting, or nothing", () => {
  assert.is(didYouMean('exprt', ['export', 'fulfill']), " (did you mean 'export'?)");
  assert.is(
    didYouMean('ignore-cookie', ['ignore-cookies'], (s) => `--${s}`),
    ' (did you mean --ignore-cookies?)',
  );
  assert.is(didYouMean('zzz', ['export']), '');
});

Mean.run();
