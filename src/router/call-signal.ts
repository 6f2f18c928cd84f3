/**
 * The AbortSignal handed to a manager call: fires on hard shutdown, on losing the upload's lease,
 * or at the call's deadline. `dispose` clears the deadline timer so nothing outlives the call.
 */
export function callSignal(...sources: [...AbortSignal[], number]): { signal: AbortSignal; dispose(): void } {
  const deadline = sources.pop() as number;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException(`deadline of ${new Date(deadline).toISOString()} passed`, 'TimeoutError')),
    Math.max(0, deadline - Date.now()),
  );
  const signal = AbortSignal.any([...(sources as AbortSignal[]), controller.signal]);
  return { signal, dispose: () => clearTimeout(timer) };
}
