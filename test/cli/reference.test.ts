/**
 * The CLI's documentation comes from the command catalog: the README table must be what
 * `npm run docs:cli` writes now (else the README drifted), and `--help` of the real executable
 * prints the catalog's flags, including the ones the old hand-written table missed.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { COMMANDS, findCommand } from '../../src/cli/catalog.ts';
import { withReadmeTable } from '../../src/cli/reference.ts';
import { runCli } from './cli-runner.ts';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));

describe('CLI reference', () => {
  it('the README table is up to date with the catalog (run "npm run docs:cli" if this fails)', () => {
    const readme = readFileSync(README, 'utf8');
    expect(withReadmeTable(readme)).toBe(readme);
  });

  it('the README lists every command and the flags the old table missed', () => {
    const readme = readFileSync(README, 'utf8');
    for (const spec of COMMANDS) expect(readme).toContain(`| \`${spec.name}`);
    for (const text of ['`destination <id>`', '`--status`', '`--submission <id>`', '`--force`', '`--reason ', '`--all`', '`--before <id>`']) {
      expect(readme).toContain(text);
    }
  });

  it('every flag has a description, and every command module has the name of its entry', async () => {
    for (const spec of COMMANDS) {
      for (const [name, flag] of Object.entries(spec.flags)) expect(flag.description, `${spec.name} --${name}`).toMatch(/\w{3}/);
      expect((await spec.load()).name).toBe(spec.name);
    }
  });

  it('--help prints the synopsis and every flag of the catalog entry', async () => {
    // bin/batch-router.js itself, as users run it; other CLI tests run the compiled copy.
    const result = await runCli(['cancel', '--help'], {}, undefined, { bin: true });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout.split('\n')[0]).toBe('batch-router cancel [options]');
    for (const name of Object.keys(findCommand('cancel')!.flags)) expect(result.stdout).toContain(`--${name}`);
    const list = await runCli(['help'], {});
    for (const spec of COMMANDS) expect(list.stdout).toContain(`  ${spec.name} `);
  });
});
