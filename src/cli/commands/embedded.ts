/**
 * Commands that look after the embedded database's data directory itself rather than its rows.
 * `break-lock`: removes the lock left by a host (container) that is gone, which no other host can
 * judge dead on its own (see src/db/lock-holder.ts).
 */
import { breakDataDirLock } from '../../db/data-dir-lock.ts';
import { describeHolder } from '../../db/lock-holder.ts';
import { optString } from '../args.ts';
import { CliError, EXIT, UsageError, type Command } from '../command.ts';

export const breakLockCommand: Command = {
  name: 'break-lock',
  async run(input, ctx) {
    const host = optString(input, 'host');
    if (host === undefined || host === '') throw new UsageError('--host is required: the host name the lock names');
    const { dataDir, databaseUrl } = ctx.config();
    if (databaseUrl !== '') ctx.note('note: DATABASE_URL is set, so the embedded database in BATCH_ROUTER_DATA_DIR is not in use');
    let outcome;
    try {
      outcome = await breakDataDirLock(dataDir, host);
    } catch (error) {
      throw new CliError((error as Error).message, EXIT.failure);
    }
    if (outcome.kind === 'none') ctx.print(`${dataDir}: not locked, nothing to break`);
    else ctx.print(`${dataDir}: removed the lock of ${describeHolder(outcome.holder)}`);
    return EXIT.ok;
  },
};
