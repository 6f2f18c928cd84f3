/**
 * Splits a pg_dump SQL file into statements, so a restore can hand PGlite a bounded batch at a
 * time: one `exec` of a whole dump makes PostgreSQL parse every statement of it before running the
 * first (about 1 GB of memory for 20,000 jobs). pg_dump writes with standard_conforming_strings on,
 * so the lexing needed is small: '…' strings (with '' inside), "…" identifiers, $tag$…$tag$ bodies
 * and -- comments; a ';' outside all of them ends a statement.
 */

const DOLLAR_TAG = /\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$/y;

/** The statements of `text`, each with its ';' (a trailing one without it is kept as is). */
export function* sqlStatements(text: string): Generator<string> {
  let start = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === "'" || c === '"') {
      i = closing(text, i + 1, c);
    } else if (c === '-' && text[i + 1] === '-') {
      const newline = text.indexOf('\n', i);
      i = newline < 0 ? text.length : newline + 1;
    } else if (c === '$' && (DOLLAR_TAG.lastIndex = i, DOLLAR_TAG.test(text))) {
      const tag = text.slice(i, DOLLAR_TAG.lastIndex);
      const end = text.indexOf(tag, DOLLAR_TAG.lastIndex);
      i = end < 0 ? text.length : end + tag.length;
    } else if (c === ';') {
      i += 1;
      yield text.slice(start, i);
      start = i;
    } else {
      i += 1;
    }
  }
  if (text.slice(start).trim() !== '') yield text.slice(start);
}

/** The index after the quote that closes a literal opened just before `from` (a doubled quote is content). */
function closing(text: string, from: number, quote: string): number {
  let i = from;
  for (;;) {
    const end = text.indexOf(quote, i);
    if (end < 0) return text.length;
    if (text[end + 1] !== quote) return end + 1;
    i = end + 2;
  }
}

/** Groups statements into batches of about `maxBytes` characters (a longer statement is its own batch). */
export function* statementBatches(text: string, maxBytes: number): Generator<string> {
  let batch = '';
  for (const statement of sqlStatements(text)) {
    if (batch !== '' && batch.length + statement.length > maxBytes) {
      yield batch;
      batch = '';
    }
    batch += statement;
  }
  if (batch.trim() !== '') yield batch;
}
