/**
 * `batch-router check`: the pre-flight a deployment pipeline runs before it rolls out a release.
 * It checks what would otherwise only show once the daemon runs: the environment settings, every
 * entry of the destinations file, and whether the database can be reached and has the schema this
 * release needs. Every problem is one line on stdout (a pipeline log shows it as is); the exit
 * code is 0 only when there is none. Unknown `BATCH_ROUTER_*` names are "warning:" lines, as the
 * daemon logs them at start: a likely typo, but not a reason to stop a rollout.
 */
import { ConfigurationError, type AppConfig } from '../../config.ts';
import { migrationStatus } from '../../db/migrate.ts';
import type { ManagerRegistry } from '../../manager/registry.ts';
import { checkTuningEnv } from '../../tuning-env.ts';
import { EXIT, type CliContext, type Command } from '../command.ts';
import { describeError, loadDestinationsFile } from '../context.ts';
import { withDatabase } from '../database.ts';
import { plural } from '../output.ts';

export const checkCommand: Command = {
  name: 'check',
  async run(_input, ctx) {
    const problems: string[] = [];
    const config = checkEnvironment(ctx, problems);
    if (config) {
      const registry = await checkDestinations(ctx, problems);
      checkRouterVariables(ctx, registry, problems);
      await checkDatabase(ctx, config, problems);
    } else {
      problems.push('destinations file and database not checked: fix the settings above first');
    }
    for (const problem of problems) ctx.print(`problem: ${oneLine(problem)}`);
    if (problems.length === 0) return EXIT.ok;
    ctx.note(`check failed: ${plural(problems.length, 'problem')}`);
    return EXIT.usage;
  },
};

function checkEnvironment(ctx: CliContext, problems: string[]): AppConfig | undefined {
  try {
    const config = ctx.config();
    ctx.print('ok: environment settings');
    return config;
  } catch (error) {
    if (!(error instanceof ConfigurationError)) throw error;
    problems.push(...error.problems.map((problem) => `environment: ${problem}`));
    return undefined;
  }
}

/** Checks the destinations file; returns the installed managers it was checked against. */
async function checkDestinations(ctx: CliContext, problems: string[]): Promise<ManagerRegistry> {
  const loaded = await loadDestinationsFile(ctx);
  const file = ctx.config().destinationsFile;
  if (loaded.fileError) {
    problems.push(loaded.fileError);
    return loaded.registry;
  }
  const invalid = loaded.destinations.filter((d) => !d.valid);
  problems.push(...invalid.map((d) => d.error ?? `destination "${d.id}" is invalid`));
  for (const d of loaded.destinations) for (const note of d.notes) ctx.note(`note: ${note}`);
  if (invalid.length > 0) return loaded.registry;
  const disabled = loaded.destinations.filter((d) => !d.enabled).length;
  const count = plural(loaded.destinations.length, 'destination');
  ctx.print(`ok: destinations file ${file}: ${count}${disabled > 0 ? `, ${disabled} disabled` : ''}`);
  return loaded.registry;
}

/**
 * The start's own check of `BATCH_ROUTER_*` variables: a bad tunable refuses the start, so it is
 * a problem here too (once: a destination using it has usually reported it already); an unknown
 * name is a warning with the closest known one.
 */
function checkRouterVariables(ctx: CliContext, registry: ManagerRegistry, problems: string[]): void {
  const checked = checkTuningEnv(ctx.env, registry.keys());
  for (const problem of checked.problems) if (!problems.some((known) => known.includes(problem))) problems.push(`environment: ${problem}`);
  for (const warning of checked.warnings) ctx.print(`warning: ${warning}`);
}

async function checkDatabase(ctx: CliContext, config: AppConfig, problems: string[]): Promise<void> {
  try {
    await withDatabase(ctx, async (db, handle) => {
      const states = await migrationStatus(db);
      const pending = states.filter((s) => !s.executedAt).length;
      if (pending === 0) ctx.print(`ok: database ${handle.displayUrl}: reachable, schema up to date (${plural(states.length, 'migration')})`);
      else if (config.autoMigrate) {
        ctx.print(`ok: database ${handle.displayUrl}: reachable, ${plural(pending, 'pending migration')} that the daemon applies on start`);
      } else {
        problems.push(
          `database ${handle.displayUrl}: ${plural(pending, 'pending migration')} and BATCH_ROUTER_AUTO_MIGRATE=false: ` +
            'fix: run "batch-router migrate" before starting this release',
        );
      }
    });
  } catch (error) {
    problems.push(describeError(error));
  }
}

/** A problem as one line, so a pipeline log (and grep) shows one problem per line. */
function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}
