// Preact with htm: components written as tagged templates, so the browser runs these files as they
// are, with no compiler or bundler between the repository and the page.
import { h, render } from '/ui/vendor/preact.mjs';
import { useCallback, useEffect, useRef, useState } from '/ui/vendor/hooks.mjs';
import htm from '/ui/vendor/htm.mjs';

export const html = htm.bind(h);
export { render, useCallback, useEffect, useRef, useState };

/**
 * Calls `load` now and every `intervalMs` while the tab is visible (a hidden tab costs the API
 * nothing); keeps the last good data beside the last error so a blip does not blank the page.
 */
export function usePolling(load, intervalMs, deps = []) {
  const [state, setState] = useState({ data: undefined, error: undefined, at: undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let cancelled = false;
    let timer;
    const run = async () => {
      if (document.visibilityState !== 'hidden') {
        try {
          const data = await load();
          if (!cancelled) setState({ data, error: undefined, at: new Date() });
        } catch (error) {
          if (!cancelled) setState((s) => ({ ...s, error }));
        }
      }
      if (!cancelled) timer = setTimeout(run, intervalMs);
    };
    run();
    return () => { cancelled = true; clearTimeout(timer); };
  }, [...deps, tick]);
  return { ...state, reload: () => setTick((t) => t + 1) };
}
