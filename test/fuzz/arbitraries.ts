/**
 * Adversarial inputs shared by the fuzz tests: JSON values salted with NUL characters, lone
 * surrogates (invalid UTF-8 once encoded), prototype keys, SQL metacharacters, huge strings and
 * deep nesting. Run counts stay small so every fuzz file takes seconds.
 */
import fc from 'fast-check';

export const RUNS = { numRuns: 150 } as const;

export const nastyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary' }),
  fc.constantFrom('\u0000', 'a\u0000b', '\uD800', 'x\uDFFFy', '__proto__', 'constructor', 'prototype',
    "'; DROP TABLE br_jobs; --", '" OR 1=1 --', '%00', '\\', '${HOME}', '\r\n', ',"quoted""', '=cmd|"/c calc"!A0', ''),
  fc.integer({ min: 1000, max: 300_000 }).map((n) => 'x'.repeat(n)),
);

const nastyKey = fc.oneof(fc.string({ maxLength: 12 }), fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'id', 'email', '\u0000', ''));

/** Nested `depth` levels of arrays or objects around a leaf. */
export const deeplyNested = fc.tuple(fc.integer({ min: 100, max: 3000 }), fc.boolean()).map(([depth, arrays]) => {
  let value: unknown = 'leaf';
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
});

export const nastyJson: fc.Arbitrary<unknown> = fc.letrec<{ value: unknown }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    nastyString,
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 5 }),
    salted(fc.dictionary(nastyKey, tie('value'), { maxKeys: 6 })),
  ),
})).value;

/** An object that really owns a `__proto__` key, as `JSON.parse` produces (a literal would set the prototype). */
function salted(objects: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<Record<string, unknown>> {
  return fc.tuple(objects, fc.integer({ min: 0, max: 4 })).map(([object, dice]) => (dice === 0 ? withPrototypeKey(object) : object));
}

function withPrototypeKey(object: Record<string, unknown>): Record<string, unknown> {
  return JSON.parse(`{"__proto__": {"polluted": true}, "constructor": {"prototype": 1}, ${JSON.stringify(object).slice(1)}`.replace(/, }$/, '}')) as Record<string, unknown>;
}

/** A JSON object event (what the API and the CLI store), salted with hostile values. */
export const nastyEvent = salted(fc.dictionary(nastyKey, nastyJson, { maxKeys: 8 }));
