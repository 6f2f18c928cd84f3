import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { destinationsSummary, loadDestinations } from '../src/destinations.ts';
import type { Destination } from '../src/destinations.ts';
import { configSchema, f } from '../src/manager/config-schema.ts';
import type { Manager } from '../src/manager/contract.ts';
import { allSucceeded, defineManager } from '../src/manager/define.ts';
import type { ManagerRegistry } from '../src/manager/registry.ts';
import { TUNING_DEFAULTS } from '../src/tuning.ts';

/** A small manager whose `token` check quotes the value, to prove errors are scrubbed anyway. */
const hook = defineManager({
  name: 'test-hook',
  description: 'test manager',
  configSchema: configSchema({
    url: f.url({ doc: 'endpoint' }),
    token: f.custom<string>('string', { doc: 'api token', secret: true, optional: true }, (v) =>
      typeof v === 'string' && v.length >= 8 ? undefined : `"${String(v)}" is shorter than 8 characters`,
    ),
    headers: f.stringMap({ doc: 'headers', secret: true, default: {} }),
    batch: f.int({ doc: 'size', default: 10, min: 1 }),
  }),
  limits: { maxEventsPerUpload: 500 },
  tuningDefaults: { maxAttempts: 4 },
  transform: ({ event }) => event,
  upload: async (batch) => allSucceeded(batch.jobIds),
});
const files = defineManager({ ...hook, name: 'test-files', limits: {}, tuningDefaults: {} });
const registry: ManagerRegistry = new Map<string, Manager>([
  [hook.name, hook as Manager],
  [files.name, files as Manager],
]);

const dir = mkdtempSync(join(tmpdir(), 'destinations-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let counter = 0;
function fileWith(content: unknown): string {
  const path = join(dir, `d${++counter}.json`);
  writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
  return path;
}
function load(content: unknown, env: Record<string, string> = {}) {
  return loadDestinations(fileWith(content), registry, env);
}
const byId = (list: Destination[], id: string) => list.find((d) => d.id === id)!;

describe('loadDestinations: the file', () => {
  it('reports a missing file with the path and how to create it', () => {
    const result = loadDestinations(join(dir, 'absent.json'), registry, {});
    expect(result.destinations).toEqual([]);
    expect(result.fileError).toContain(join(dir, 'absent.json'));
    expect(result.fileError).toContain('create it');
    expect(result.fileError).toContain('BATCH_ROUTER_DESTINATIONS_FILE');
  });

  it('reports unparsable JSON with its position', () => {
    const result = load('[\n  {"id": "a",}\n]');
    expect(result.destinations).toEqual([]);
    expect(result.fileError).toMatch(/not valid JSON: .*position 15/);
    expect(result.fileError).toContain('line 2');
  });

  it('accepts an array or {"destinations": [...]} and rejects anything else', () => {
    const entry = { id: 'a', manager: 'test-hook', config: { url: 'https://x.example' } };
    expect(load([entry]).destinations.map((d) => d.valid)).toEqual([true]);
    expect(load({ destinations: [entry] }).destinations.map((d) => d.valid)).toEqual([true]);
    expect(load({ entries: [entry] }).fileError).toContain('must hold a JSON array');
  });
});

describe('loadDestinations: entries', () => {
  it('parses a healthy entry with the manager schema and resolves its tuning', () => {
    const { destinations, fileError } = load(
      [{ id: 'hooks.main', manager: 'test-hook', config: { url: 'https://x.example/in/' }, tuning: { maxEventsPerUpload: 900 } }],
      { BATCH_ROUTER_TEST_HOOK_UPLOAD_INTERVAL_MS: '250' },
    );
    expect(fileError).toBeUndefined();
    const d = destinations[0]!;
    expect(d).toMatchObject({ id: 'hooks.main', managerName: 'test-hook', enabled: true, valid: true });
    expect(d.manager).toBe(hook);
    expect(d.config).toEqual({ url: 'https://x.example/in', headers: {}, batch: 10 });
    expect(d.tuning).toMatchObject({ maxEventsPerUpload: 500, uploadIntervalMs: 250, maxAttempts: 4 });
    expect(d.notes[0]).toContain('destination "hooks.main": tuning.maxEventsPerUpload = 900 is above the test-hook limit 500');
    expect(d.error).toBeUndefined();
  });

  it('substitutes ${ENV} in strings, and reports a missing variable by field', () => {
    const { destinations } = load(
      [
        { id: 'ok', manager: 'test-hook', config: { url: '${HOOK_URL}/v1', headers: { Authorization: 'Bearer ${TOKEN}', X: '$${LITERAL}' } } },
        { id: 'missing', manager: 'test-hook', config: { url: 'https://x.example', headers: { Authorization: '${NOPE_TOKEN}' } } },
      ],
      { HOOK_URL: 'https://env.example', TOKEN: 'tok-value-1' },
    );
    const ok = byId(destinations, 'ok');
    expect(ok.valid).toBe(true);
    expect(ok.config).toMatchObject({ url: 'https://env.example/v1', headers: { Authorization: 'Bearer tok-value-1', X: '${LITERAL}' } });
    const missing = byId(destinations, 'missing');
    expect(missing.valid).toBe(false);
    expect(missing.error).toContain('destination "missing"');
    expect(missing.error).toContain('field "config.headers.Authorization" uses ${NOPE_TOKEN} but NOPE_TOKEN is not set');
  });

  it('invalidates only the broken entry, naming the destination and the field', () => {
    const { destinations } = load([
      { id: 'good', manager: 'test-hook', config: { url: 'https://x.example' } },
      { id: 'broken', manager: 'test-hook', config: { url: 'not a url', batch: 10 } },
      { id: 'typo', manager: 'test-hook', config: { url: 'https://x.example', bacth: 3 } },
      { id: 'disabled', manager: 'test-files', enabled: false, config: { url: 'https://y.example' } },
    ]);
    expect(destinations.map((d) => [d.id, d.valid])).toEqual([['good', true], ['broken', false], ['typo', false], ['disabled', true]]);
    expect(byId(destinations, 'broken').error).toMatch(/^destination "broken": field "config.url" is not a valid URL/);
    expect(byId(destinations, 'broken').config).toEqual({ url: 'not a url', batch: 10 });
    expect(byId(destinations, 'typo').error).toContain('field "config.bacth"');
    expect(byId(destinations, 'disabled').enabled).toBe(false);
    expect(destinationsSummary(destinations).map((row) => row.status)).toEqual(['ready', 'invalid', 'invalid', 'disabled']);
  });

  it('names an unknown manager and lists the known ones', () => {
    const { destinations } = load([{ id: 'x', manager: 'marketo', config: {} }]);
    expect(destinations[0]!.valid).toBe(false);
    expect(destinations[0]!.manager).toBeUndefined();
    expect(destinations[0]!.tuning).toEqual(TUNING_DEFAULTS);
    expect(destinations[0]!.error).toContain('destination "x": unknown manager "marketo": fix: set "manager" to one of test-files, test-hook');
  });

  it('rejects a duplicate id on the later entry and malformed or missing ids', () => {
    const entry = { manager: 'test-hook', config: { url: 'https://x.example' } };
    const { destinations } = load([
      { id: 'same', ...entry },
      { id: 'same', ...entry },
      { id: '-bad id', ...entry },
      { ...entry },
      { id: 'fine', ...entry, color: 'blue' },
    ]);
    expect(destinations.map((d) => d.valid)).toEqual([true, false, false, false, false]);
    expect(destinations[1]!.error).toContain('destination "same": field "id": "same" is already used by entry #1');
    expect(destinations[2]!.error).toContain('destination "-bad id": field "id" must start with a letter or digit');
    expect(destinations[3]!.id).toBe('#4');
    expect(destinations[3]!.error).toContain('destination "#4": field "id" is required');
    expect(destinations[4]!.error).toContain('field "color" is not known');
  });

  it('reports bad tuning for that destination only', () => {
    const { destinations } = load([
      { id: 'a', manager: 'test-hook', config: { url: 'https://x.example' }, tuning: { maxAttempts: 0 } },
      { id: 'b', manager: 'test-hook', config: { url: 'https://x.example' } },
    ]);
    expect(destinations[0]!.error).toContain('destination "a": field "tuning.maxAttempts" must be a positive whole number, got 0');
    expect(destinations[1]!.valid).toBe(true);
  });
});

describe('loadDestinations: secrets', () => {
  it('never puts secret values in error text, even when a validator quotes them', () => {
    const env = { SHORT_TOKEN: 'Xy7', HEADER_SECRET: 'hdr-secret-987654' };
    const { destinations } = load(
      [
        { id: 'env-secret', manager: 'test-hook', config: { url: 'https://x.example', token: '${SHORT_TOKEN}' } },
        { id: 'file-secret', manager: 'test-hook', config: { url: 'bad url', token: 'literal-secret-1', headers: { A: '${HEADER_SECRET}' } } },
      ],
      env,
    );
    const [envSecret, fileSecret] = destinations;
    expect(envSecret!.error).toContain('field "config.token" "[redacted]" is shorter than 8 characters');
    expect(envSecret!.error).not.toContain('Xy7');
    expect(fileSecret!.error).toContain('field "config.url"');
    for (const d of destinations) {
      for (const secret of ['Xy7', 'literal-secret-1', 'hdr-secret-987654']) expect(d.error ?? '').not.toContain(secret);
    }
  });

  it('keeps the secrets for later redaction, out of enumeration and out of invalid configs', () => {
    const { destinations } = load(
      [
        { id: 'a', manager: 'test-hook', config: { url: 'https://x.example', token: 'literal-secret-1', headers: { A: '${H}' } } },
        { id: 'b', manager: 'test-hook', config: { url: 'nope', token: 'literal-secret-2', headers: { A: '${H}' } } },
      ],
      { H: 'env-header-value' },
    );
    expect([...destinations[0]!.secrets].sort()).toEqual(['env-header-value', 'literal-secret-1']);
    expect(Object.keys(destinations[0]!)).not.toContain('secrets');
    expect(destinations[1]!.config).toEqual({ url: 'nope', token: '[redacted]', headers: '[redacted]' });
    expect(JSON.stringify(destinations[1])).not.toMatch(/env-header-value|literal-secret-2/);
  });
});
