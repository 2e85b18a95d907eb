import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { msalLogLine } from '../../src/graph/msal-log.js';

const Line = suite('msalLogLine');

Line("msalLogLine(message) drops msal's date, correlation id and version, and says the level", () => {
  assert.is(
    msalLogLine(
      '[Fri, 04 Dec 2026 21:24:07 GMT] : [1dc6df61-1b80-45a7-8b43-c62a64d1f506] : @azure/msal-node@7.2.3 : Error - network_error: Network request failed',
    ),
    'msal: error: network_error: Network request failed',
  );
  assert.is(msalLogLine('something else'), 'msal: something else');
});

Line('msalLogLine(message) drops the warning every app-only token gets', () => {
  assert.is(
    msalLogLine(
      '[Fri, 04 Dec 2026 21:24:07 GMT] : [1dc6df61-1b80-45a7-8b43-c62a64d1f506] : @azure/msal-node@7.2.3 : Warning - No client info in response',
    ),
    undefined,
  );
});

Line.run();
