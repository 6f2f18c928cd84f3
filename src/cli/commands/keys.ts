/**
 * `batch-router keys`: API keys and the callback secret. A key is printed once, at creation; the
 * keys file keeps only its SHA-256 hash, so nobody (including this command) can show it again.
 * A running daemon picks up created and revoked keys within a second, without a restart.
 */
import { createKey, readKeysFile, revokeKey, SCOPES, type Scope } from '../../api/keys-store.ts';
import { newWebhookSecret } from '../../api/callbacks/signing.ts';
import { optFlag, optList, optString } from '../args.ts';
import { CliError, EXIT, UsageError, type Command } from '../command.ts';
import { printJson, printTable } from '../output.ts';

const SUBCOMMANDS = ['create', 'list', 'revoke', 'secret'];

export const keysCommand: Command = {
  name: 'keys',
  async run(input, ctx) {
    const [sub, arg] = input.positionals;
    if (!SUBCOMMANDS.includes(sub!)) throw new UsageError(`keys: unknown subcommand "${sub}"; use ${SUBCOMMANDS.join(', ')}`);
    if (sub !== 'revoke' && arg !== undefined) throw new UsageError(`keys ${sub}: unexpected argument "${arg}"`);
    if (sub === 'secret') {
      ctx.print(newWebhookSecret());
      return EXIT.ok;
    }
    const file = ctx.config().apiKeysFile;
    const json = optFlag(input, 'json');
    try {
      if (sub === 'create') {
        const name = optString(input, 'name');
        if (!name) throw new UsageError('keys create: --name is required, e.g. --name ingest-service');
        const scopes = optList(input, 'scopes');
        if (scopes.length === 0) throw new UsageError(`keys create: --scopes is required; choose from ${SCOPES.join(', ')}`);
        const unknown = scopes.find((s) => !(SCOPES as readonly string[]).includes(s));
        if (unknown) throw new UsageError(`keys create: unknown scope "${unknown}"; choose from ${SCOPES.join(', ')}`);
        const destinations = optList(input, 'destinations');
        const { key, record } = createKey(file, { name, scopes: scopes as Scope[], destinations: destinations.length > 0 ? destinations : undefined });
        if (json) printJson(ctx, { key, id: record.id, name: record.name, scopes: record.scopes, destinations: record.destinations ?? null });
        else {
          ctx.print(key);
          ctx.note(`created ${record.id} (${record.name}) with scopes ${record.scopes.join(', ')}` +
            `${record.destinations ? ` for destinations ${record.destinations.join(', ')}` : ''} in ${file}`);
          ctx.note('This is the only time the key is shown: store it now. Send it as "Authorization: Bearer <key>".');
        }
        return EXIT.ok;
      }
      if (sub === 'list') {
        const keys = readKeysFile(file);
        if (json) printJson(ctx, keys.map(({ hash: _hash, ...rest }) => rest));
        else if (keys.length === 0) ctx.print(`no API keys in ${file}; the API is open on loopback only`);
        else {
          printTable(ctx, ['ID', 'NAME', 'SCOPES', 'DESTINATIONS', 'CREATED', 'REVOKED'], keys.map((k) => [
            k.id, k.name, k.scopes.join(','), k.destinations?.join(',') ?? '(all)', k.createdAt, k.revokedAt ?? '',
          ]));
        }
        return EXIT.ok;
      }
      if (arg === undefined) throw new UsageError('keys revoke: give the key id, as shown by "keys list"');
      const revoked = revokeKey(file, arg);
      if (!revoked) throw new CliError(`no key "${arg}" in ${file}; "batch-router keys list" shows the ids`, EXIT.usage);
      ctx.print(`revoked ${revoked.id} (${revoked.name}) at ${revoked.revokedAt}`);
      return EXIT.ok;
    } catch (error) {
      if (error instanceof CliError) throw error;
      throw new CliError((error as Error).message, EXIT.failure, { cause: error });
    }
  },
};
