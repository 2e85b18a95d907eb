import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { FilterError, filterShape, matches, parseFilter } from '../../src/emulator/odata-filter.js';

const Parse = suite('parseFilter');

Parse('parseFilter("prop eq \'v\'") reads eq with string, number, boolean and null literals', () => {
  assert.equal(parseFilter("displayName eq 'Adele'"), { op: 'eq', prop: 'displayName', value: 'Adele' });
  assert.equal(parseFilter('accountEnabled eq true'), { op: 'eq', prop: 'accountEnabled', value: true });
  assert.equal(parseFilter('x eq 12'), { op: 'eq', prop: 'x', value: 12 });
  assert.equal(parseFilter('mail eq null'), { op: 'eq', prop: 'mail', value: null });
});

Parse("parseFilter(\"...'O''Neil'\") unescapes doubled quotes", () => {
  assert.equal(parseFilter("surname eq 'O''Neil'"), { op: 'eq', prop: 'surname', value: "O'Neil" });
});

Parse('parseFilter(startswith/in/and/or/not) builds the tree with and binding tighter than or', () => {
  assert.equal(parseFilter("startswith(displayName,'A')"), {
    op: 'startswith',
    prop: 'displayName',
    value: 'A',
  });
  assert.equal(parseFilter("department in ('Sales', 'Retail')"), {
    op: 'in',
    prop: 'department',
    values: ['Sales', 'Retail'],
  });
  const tree = parseFilter("a eq '1' or b eq '2' and c eq '3'");
  assert.is(tree.op, 'or');
  assert.is((tree as any).right.op, 'and');
  const grouped = parseFilter("(a eq '1' or b eq '2') and c eq '3'");
  assert.is(grouped.op, 'and');
  assert.equal(parseFilter("not startswith(mail,'x')"), {
    op: 'not',
    expr: { op: 'startswith', prop: 'mail', value: 'x' },
  });
});

Parse('parseFilter(text) throws FilterError on syntax errors and unsupported operators', () => {
  for (const bad of [
    "displayName gt 'A'",
    "displayName eq 'A",
    "displayName eq 'A' and",
    'startswith(displayName, 1)',
    "(displayName eq 'A'",
    'displayName eq bareword',
    "displayName eq 'A' 'B'",
  ])
    assert.throws(
      () => parseFilter(bad),
      (e: unknown) => e instanceof FilterError,
      bad,
    );
});

Parse.run();

// ---

const Shape = suite('filterShape');

Shape('filterShape(node) lists the properties read and flags ne/not/endswith as advanced', () => {
  assert.equal(filterShape(parseFilter("a eq '1' and startswith(b,'x') or c in ('y')")), {
    props: ['a', 'b', 'c'],
    advanced: false,
  });
  assert.is(filterShape(parseFilter("a ne '1'")).advanced, true);
  assert.is(filterShape(parseFilter("endswith(mail,'@contoso.com')")).advanced, true);
  assert.is(filterShape(parseFilter("not (a eq '1')")).advanced, true);
});

Shape.run();

// ---

const Matches = suite('matches');

const adele: Record<string, unknown> = {
  displayName: 'Adele Vance',
  department: 'Retail',
  accountEnabled: true,
  mail: 'AdeleV@contoso.com',
};
const get = (p: string) => adele[p];

Matches('matches(node, get) compares strings without regard to case, as the directory does', () => {
  assert.ok(matches(parseFilter("displayName eq 'adele vance'"), get));
  assert.ok(matches(parseFilter("startswith(displayName,'ADE')"), get));
  assert.not.ok(matches(parseFilter("startswith(displayName,'Vance')"), get));
  assert.ok(matches(parseFilter("endswith(mail,'@CONTOSO.com')"), get));
});

Matches('matches(node, get) evaluates in, booleans, null, and/or/not', () => {
  assert.ok(matches(parseFilter("department in ('Sales','retail')"), get));
  assert.not.ok(matches(parseFilter("department in ('Sales')"), get));
  assert.ok(matches(parseFilter('accountEnabled eq true'), get));
  assert.not.ok(matches(parseFilter('accountEnabled eq false'), get));
  assert.ok(matches(parseFilter('jobTitle eq null'), get));
  assert.not.ok(matches(parseFilter('mail eq null'), get));
  assert.ok(matches(parseFilter("mail ne null and not (department eq 'Sales')"), get));
  assert.ok(matches(parseFilter("department eq 'Sales' or accountEnabled eq true"), get));
  assert.not.ok(matches(parseFilter("department eq 'Sales' and accountEnabled eq true"), get));
});

Matches.run();
