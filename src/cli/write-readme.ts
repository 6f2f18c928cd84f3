/**
 * `npm run docs:cli`: rewrites the README's CLI table (between the cli-reference markers) from the
 * command catalog. test/cli/reference.test.ts fails when the committed README differs.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withReadmeTable } from './reference.ts';

const readmePath = fileURLToPath(new URL('../../README.md', import.meta.url));
const before = readFileSync(readmePath, 'utf8');
const after = withReadmeTable(before);
if (after !== before) writeFileSync(readmePath, after);
process.stdout.write(after === before ? 'README.md CLI table already up to date\n' : 'README.md CLI table rewritten\n');
