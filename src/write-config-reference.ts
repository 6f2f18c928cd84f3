/**
 * `npm run docs:config`: rewrites the README's configuration and tunables tables (between the
 * config-reference and tuning-reference markers) from the schemas.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { withConfigReference } from './config-reference.ts';

const readmePath = fileURLToPath(new URL('../README.md', import.meta.url));
const before = readFileSync(readmePath, 'utf8');
const after = withConfigReference(before);
if (after !== before) writeFileSync(readmePath, after);
process.stdout.write(after === before ? 'README.md configuration reference already up to date\n' : 'README.md configuration reference rewritten\n');
