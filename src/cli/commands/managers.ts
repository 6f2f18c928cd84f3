/**
 * `batch-router managers`: the destination types installed under `managers/`, with what a
 * destination entry needs to use one (its config fields) and the vendor limits the router obeys.
 * Needs neither the database nor the destinations file, so it works on a fresh checkout.
 */
import type { Manager } from '../../manager/contract.ts';
import { optFlag } from '../args.ts';
import { CliError, EXIT, type Command } from '../command.ts';
import { describeError } from '../context.ts';
import { loadManagers } from '../../manager/registry.ts';
import { printJson, renderTable } from '../output.ts';

interface FieldInfo {
  name: string;
  kind: string;
  required: boolean;
  /** Null when the field has no default (required, or optional and simply absent). */
  default: unknown;
  secret: boolean;
  doc: string;
}

function describeManager(manager: Manager) {
  const fields: FieldInfo[] = Object.entries(manager.configSchema.fields).map(([name, field]) => ({
    name,
    kind: field.kind,
    required: field.required,
    default: field.defaultValue ?? null,
    secret: field.secret,
    doc: field.doc,
  }));
  return {
    name: manager.name,
    description: manager.description,
    fireAndForget: manager.fireAndForget,
    limits: manager.limits,
    tuningDefaults: manager.tuningDefaults,
    fields,
  };
}

export const managersCommand: Command = {
  name: 'managers',
  async run(input, ctx) {
    let managers: ReturnType<typeof describeManager>[];
    try {
      managers = [...(await loadManagers()).values()].map(describeManager);
    } catch (error) {
      throw new CliError(`${describeError(error)}\nFix or remove that manager directory, then try again.`, EXIT.failure, { cause: error });
    }
    if (optFlag(input, 'json')) {
      printJson(ctx, managers);
      return EXIT.ok;
    }
    if (managers.length === 0) ctx.print('(no managers installed under managers/)');
    for (const [index, manager] of managers.entries()) {
      if (index > 0) ctx.print('');
      ctx.print(`${manager.name}: ${manager.description}`);
      ctx.print(`  ${manager.fireAndForget ? 'fire-and-forget (no imports to poll)' : 'creates vendor imports that are polled until done'}`);
      const limits = Object.entries(manager.limits).map(([key, value]) => `${key} ${value}`);
      if (limits.length > 0) ctx.print(`  limits: ${limits.join(', ')}`);
      const tuning = Object.entries(manager.tuningDefaults).map(([key, value]) => `${key} ${value}`);
      if (tuning.length > 0) ctx.print(`  tuning defaults: ${tuning.join(', ')}`);
      const rows = manager.fields.map((field) => [
        field.name,
        field.kind,
        field.required ? 'yes' : 'no',
        field.default === null ? '-' : JSON.stringify(field.default),
        field.secret ? 'yes' : '',
        field.doc,
      ]);
      ctx.print('  config fields:');
      ctx.print(renderTable(['NAME', 'KIND', 'REQUIRED', 'DEFAULT', 'SECRET', 'DOC'], rows).replace(/^/gm, '    '));
    }
    return EXIT.ok;
  },
};
