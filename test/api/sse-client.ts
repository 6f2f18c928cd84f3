/**
 * A minimal Server-Sent Events reader for tests: parses `event:`/`id:`/`data:` fields and `:`
 * comments from a fetch body as they arrive, so a test can wait for the next event.
 */
export interface SseEvent {
  event: string;
  id?: string;
  data: any;
}

export interface SseConnection {
  status: number;
  contentType: string | null;
  /** Resolves with the next event, or undefined when the stream ended. */
  next(): Promise<SseEvent | undefined>;
  /** Comments seen so far (heartbeats). */
  comments: string[];
  /** Resolves when the server closed the stream. */
  ended: Promise<void>;
  close(): void;
}

export async function openSse(url: string, headers: Record<string, string> = {}): Promise<SseConnection> {
  const controller = new AbortController();
  const res = await fetch(url, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal });
  const queue: SseEvent[] = [];
  const waiters: Array<(e: SseEvent | undefined) => void> = [];
  const comments: string[] = [];
  let done = false;
  let endResolve: () => void = () => {};
  const ended = new Promise<void>((resolve) => (endResolve = resolve));
  const push = (e: SseEvent | undefined) => {
    const waiter = waiters.shift();
    if (waiter) waiter(e);
    else if (e) queue.push(e);
  };
  void (async () => {
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        let split: number;
        while ((split = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split + 2);
          const event: Partial<SseEvent> = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('event: ')) event.event = line.slice(7);
            else if (line.startsWith('id: ')) event.id = line.slice(4);
            else if (line.startsWith('data: ')) event.data = JSON.parse(line.slice(6));
          }
          if (event.event) push(event as SseEvent);
        }
      }
    } catch {
      // aborted by close()
    } finally {
      done = true;
      while (waiters.length > 0) waiters.shift()!(undefined);
      endResolve();
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    comments,
    ended,
    next: () => (queue.length > 0 ? Promise.resolve(queue.shift()) : done ? Promise.resolve(undefined) : new Promise((resolve) => waiters.push(resolve))),
    close: () => controller.abort(),
  };
}
