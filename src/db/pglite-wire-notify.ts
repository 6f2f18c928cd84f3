/**
 * LISTEN/NOTIFY across the clients of the PGlite wire server. PGlite is one backend session, so
 * PostgreSQL itself only knows that "the session" listens, and it hands every notification to
 * whichever client's statement is running when it is sent, the notifier. The server therefore
 * keeps who listens to what per connection (from the LISTEN and UNLISTEN statements it passes
 * through), lets the session LISTEN to the union, cuts every NotificationResponse out of the
 * answers and sends it to the connections subscribed to its channel, as a server would.
 *
 * A LISTEN or UNLISTEN takes effect for its connection when its transaction commits, as in
 * PostgreSQL: the changes wait until ReadyForQuery says idle, and are dropped when the answer
 * shows an error or a ROLLBACK. When a client UNLISTENs a channel others still want, the server
 * LISTENs again for the session right after (pendingRelisten). A channel whose last listener
 * disconnected stays LISTENed by the session; its notifications are dropped.
 */
import type { FoundNotification } from './pglite-wire-protocol.ts';

export interface ListenChange {
  listen: boolean;
  /** A channel name as PostgreSQL stores it, or '*' for UNLISTEN *. */
  channel: string;
}

/** A subscriber: the server writes whole NotificationResponse messages to it. */
export interface NotificationTarget {
  notify(message: Buffer): void;
}

// LISTEN / UNLISTEN at the start of a statement, after blanks and comments; the channel as an
// identifier, quoted or not (or * for UNLISTEN).
const LISTEN_STATEMENT =
  /(?:^|;)(?:\s|--[^\n]*(?:\n|$)|\/\*[\s\S]*?\*\/)*(un)?listen\s+("(?:[^"]|"")+"|[\p{L}_][\p{L}\p{N}_$]*|\*)/giu;

/** The LISTEN and UNLISTEN statements in a Query or Parse message's SQL text, in order. */
export function listenChanges(sql: string): ListenChange[] {
  if (!/listen/i.test(sql)) return [];
  const changes: ListenChange[] = [];
  for (const match of sql.matchAll(LISTEN_STATEMENT)) {
    const word = match[2]!;
    const channel = word.startsWith('"') ? word.slice(1, -1).replaceAll('""', '"') : word === '*' ? '*' : word.toLowerCase();
    if (channel === '*' && !match[1]) continue;
    changes.push({ listen: !match[1], channel });
  }
  return changes;
}

export function quoteChannel(channel: string): string {
  return `"${channel.replaceAll('"', '""')}"`;
}

export class NotificationRouter {
  private readonly listeners = new Map<string, Set<NotificationTarget>>();

  /** Applies committed changes; true when the session must LISTEN again (an UNLISTEN passed through). */
  apply(target: NotificationTarget, changes: readonly ListenChange[]): boolean {
    let unlistened = false;
    for (const change of changes) {
      if (change.listen) {
        const set = this.listeners.get(change.channel) ?? new Set();
        set.add(target);
        this.listeners.set(change.channel, set);
        continue;
      }
      unlistened = true;
      const channels = change.channel === '*' ? [...this.listeners.keys()] : [change.channel];
      for (const channel of channels) this.remove(target, channel);
    }
    return unlistened && this.listeners.size > 0;
  }

  /** Forgets a connection that went away. */
  drop(target: NotificationTarget): void {
    for (const channel of [...this.listeners.keys()]) this.remove(target, channel);
  }

  /** SQL that makes the session listen to every channel someone wants. */
  relistenSql(): string {
    return [...this.listeners.keys()].map((channel) => `LISTEN ${quoteChannel(channel)}`).join('; ');
  }

  isSubscribed(target: NotificationTarget, channel: string): boolean {
    return this.listeners.get(channel)?.has(target) ?? false;
  }

  /**
   * Sends the notifications in `answer` to their other subscribers, and returns the answer for
   * `owner` (whose statement produced it) with the ones it did not LISTEN to cut out.
   */
  route(owner: NotificationTarget, answer: Buffer, found: readonly FoundNotification[]): Buffer {
    if (found.length === 0) return answer;
    const kept: Buffer[] = [];
    let from = 0;
    for (const { start, end, channel } of found) {
      const message = answer.subarray(start, end);
      for (const target of this.listeners.get(channel) ?? []) if (target !== owner) target.notify(Buffer.from(message));
      if (this.isSubscribed(owner, channel)) continue;
      kept.push(answer.subarray(from, start));
      from = end;
    }
    kept.push(answer.subarray(from));
    return kept.length === 1 ? kept[0]! : Buffer.concat(kept);
  }

  private remove(target: NotificationTarget, channel: string): void {
    const set = this.listeners.get(channel);
    if (!set?.delete(target)) return;
    if (set.size === 0) this.listeners.delete(channel);
  }
}
