/**
 * The custom object and program member modes: their endpoints, form fields, status counters and
 * required config fields, against the fake.
 */
import { describe, expect, it } from 'vitest';
import type { JsonObject } from '../../src/manager/contract.ts';
import marketo from './index.ts';
import { deliver, leads, marketoTestEnv } from './test/helpers.ts';

describe('marketo-bulk-upload objects', () => {
  const env = marketoTestEnv();

  it('imports custom object records at their own endpoints and maps failed rows back', async () => {
    await env.start();
    const events: JsonObject[] = [{ vin: 'WBA1', make: 'bmw' }, { make: 'no vin' }, { vin: 'WBA3', make: 'audi' }];
    const { outcomes, ids, result } = await deliver(env.fake, env.stagingDir, events, { object: 'customObject', customObjectApiName: 'car_c', fieldMapping: { vin: 'vin', make: 'make' } });
    expect(result.imports![0]!.handle).toMatchObject({ object: 'customObject', target: 'car_c' });
    expect(env.fake.requests('upload')[0]!.url).toBe('/bulk/v1/customobjects/car_c/import.json?format=csv');
    expect(env.fake.requests('status')[0]!.url).toMatch(/^\/bulk\/v1\/customobjects\/car_c\/import\/\d+\/status\.json$/);
    expect(outcomes.get(ids[1]!)).toMatchObject({ kind: 'aborted', reason: 'Marketo rejected the row: missing.dedupe.fields' });
    expect([ids[0], ids[2]].map((id) => outcomes.get(id!)!.kind)).toEqual(['succeeded', 'succeeded']);
    // No lookupField for custom objects: the object's own dedupe fields decide.
    expect([...env.fake.imports.values()][0]!.form).toEqual({ format: 'csv' });
  });

  it('names the custom object field when Marketo has no such object', async () => {
    await env.start();
    const run = deliver(env.fake, env.stagingDir, [{ vin: 'x' }], { object: 'customObject', customObjectApiName: 'boat_c', fieldMapping: { vin: 'vin' } });
    await expect(run).rejects.toMatchObject({ field: 'customObjectApiName', vendorCode: '1013' });
  });

  it('imports program members with their status and follows them at the program member endpoints', async () => {
    await env.start({ programIds: [1042] });
    const { outcomes } = await deliver(env.fake, env.stagingDir, leads(3), { object: 'programMembers', programId: 1042, programMemberStatus: 'On List' });
    expect([...outcomes.values()].every((o) => o.kind === 'succeeded')).toBe(true);
    const imp = [...env.fake.imports.values()][0]!;
    expect(imp).toMatchObject({ object: 'programMembers', target: '1042', form: { format: 'csv', programMemberStatus: 'On List' } });
    expect(env.fake.requests('upload')[0]!.url).toBe('/bulk/v1/program/1042/members/import.json?format=csv');
    expect(env.fake.requests('status')[0]!.url).toMatch(/^\/bulk\/v1\/program\/members\/import\/\d+\/status\.json$/);
    const unknown = deliver(env.fake, env.stagingDir, leads(1), { object: 'programMembers', programId: 7, programMemberStatus: 'On List' });
    await expect(unknown).rejects.toMatchObject({ field: 'programId', vendorCode: '1013' });
  });

  it('requires the fields of each object, naming them with the fix', () => {
    const base = {
      restEndpoint: 'https://123-ABC-456.mktorest.com/rest',
      identityEndpoint: 'https://123-ABC-456.mktorest.com/identity',
      clientId: 'id',
      clientSecret: 'secret',
      fieldMapping: { 'traits.email': 'email' },
    };
    const parse = (extra: Record<string, unknown>) => () => marketo.configSchema.parse({ ...base, ...extra });
    expect(parse({ object: 'customObject' })).toThrow(/customObjectApiName.*"car_c"/);
    expect(parse({ object: 'programMembers', programMemberStatus: 'On List' })).toThrow(/programId/);
    expect(parse({ object: 'programMembers', programId: 1 })).toThrow(/programMemberStatus/);
    expect(parse({ object: 'programMembers', programId: 1, programMemberStatus: 'x', fieldMapping: { name: 'firstName' } })).toThrow(/fieldMapping.*email/);
    expect(parse({ object: 'contacts' })).toThrow(/object/);
    // Custom objects need no lead lookup field among their columns.
    expect(parse({ object: 'customObject', customObjectApiName: 'car_c', fieldMapping: { vin: 'vin' } })).not.toThrow();
    expect(parse({ unconfirmedRows: 'ignore' })).toThrow(/unconfirmedRows/);
  });
});
