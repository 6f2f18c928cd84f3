/**
 * Nesting depth of a JSON value (a scalar is 0, `{}` is 1), counted with an explicit stack so a
 * hostile value cannot overflow the call stack while being measured. Stops as soon as `limit`
 * is exceeded and answers `limit + 1`. Used before anything that recurses over a value it did not
 * bound itself (JSON.stringify, config walkers, CSV flattening): a few thousand levels overflow.
 */
export function depthOf(value: unknown, limit: number): number {
  let deepest = 0;
  const pending: Array<[unknown, number]> = [[value, 1]];
  while (pending.length > 0) {
    const [node, depth] = pending.pop()!;
    if (node === null || typeof node !== 'object') continue;
    if (depth > limit) return limit + 1;
    deepest = Math.max(deepest, depth);
    for (const child of Array.isArray(node) ? node : Object.values(node)) {
      if (child !== null && typeof child === 'object') pending.push([child, depth + 1]);
    }
  }
  return deepest;
}
