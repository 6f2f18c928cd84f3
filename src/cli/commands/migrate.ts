/**
 * `batch-router migrate`: applies pending schema migrations, for deployments that run with
 * BATCH_ROUTER_AUTO_MIGRATE=false (or `start --no-migrate`) and migrate as a separate release step.
 * `--status` only reports. Opened as a client like every command, so in embedded mode it goes
 * through a running daemon, or opens the data directory itself when none runs.
 */
import { migrateToLatest, migrationStatus } from '../../db/migrate.ts';
import { optFlag } from '../args.ts';
import { EXIT, type Command } from '../command.ts';
import { withDatabase } from '../database.ts';
import { formatWhen, plural, printJson, printTable } from '../output.ts';

export const migrateCommand: Command = {
  name: 'migrate',
  async run(input, ctx) {
    const json = optFlag(input, 'json');
    return withDatabase(ctx, async (db, handle) => {
      if (optFlag(input, 'status')) {
        const states = await migrationStatus(db);
        if (json) {
          printJson(ctx, states.map((s) => ({ name: s.name, executedAt: s.executedAt?.toISOString() ?? null })));
          return EXIT.ok;
        }
        printTable(ctx, ['MIGRATION', 'APPLIED'], states.map((s) => [s.name, s.executedAt ? formatWhen(s.executedAt) : 'pending']));
        const pending = states.filter((s) => !s.executedAt).length;
        ctx.note(pending > 0 ? `${plural(pending, 'pending migration')}: run "batch-router migrate"` : 'the schema is up to date');
        return EXIT.ok;
      }
      const applied = await migrateToLatest(db, ctx.log());
      if (json) printJson(ctx, { applied });
      else if (applied.length === 0) ctx.print(`${handle.displayUrl}: already up to date, nothing to apply`);
      else {
        ctx.print(`${handle.displayUrl}: applied ${plural(applied.length, 'migration')}`);
        for (const name of applied) ctx.print(`  ${name}`);
      }
      return EXIT.ok;
    });
  },
};
