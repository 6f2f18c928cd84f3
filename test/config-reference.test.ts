/**
 * The README's configuration reference comes from the schemas: it must be what
 * `npm run docs:config` writes now, else the README drifted from the settings the code reads.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { configTable, tuningTable, withConfigReference } from '../src/config-reference.ts';
import { describeConfig } from '../src/config.ts';
import { envSuffix, TUNING_KEYS } from '../src/tuning-schema.ts';

const README = fileURLToPath(new URL('../README.md', import.meta.url));

describe('configuration reference', () => {
  it('the README tables are up to date with the schemas (run "npm run docs:config" if this fails)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withConfigReference(readme)).toBe(readme);
  });

  it('has one row per setting and per tunable, with its type, default and doc', () => {
    const config = configTable();
    for (const row of describeConfig()) expect(config).toMatch(new RegExp(`^\\| \`${row.env}\` \\| [^|]+ \\| [^|]+ \\| [^|]{20,}`, 'm'));
    expect(config).toContain('| `BATCH_ROUTER_LEASE_MS` | whole number ≥ 1000 | `30000` (30 s) |');
    expect(config).toContain('| `BATCH_ROUTER_STAGING_MEMORY_BYTES` | whole number ≥ 0 | `8388608` (8 MiB) |');
    const tuning = tuningTable();
    for (const key of TUNING_KEYS) expect(tuning).toContain(`| \`${key}\` | \`${envSuffix(key)}\` | whole number ≥ 1 |`);
  });

  it('keeps code spans intact and escapes angle brackets only in prose', () => {
    const config = configTable();
    expect(config).toContain('`whsec_<base64 of 24–64 bytes>`');
    expect(config).toContain('empty means &lt;dataDir>/staging');
  });

  it('refuses a README without the markers instead of appending a table somewhere', () => {
    expect(() => withConfigReference('# no markers here\n')).toThrow(/config-reference:start/);
  });
});
