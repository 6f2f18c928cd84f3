// Actions that change jobs, each behind a confirmation naming how many jobs it will touch.
import { html, useEffect, useRef, useState } from './lib.js';
import { n } from './format.js';

export const can = (me, scope) => me.scopes.includes(scope) || me.scopes.includes('admin');

/**
 * A button that opens a modal <dialog> (focus moves into it, Escape closes it) with the question and
 * the count; `run` performs the call and returns the sentence to show afterwards.
 */
export function ConfirmButton({ label, question, count, run, onDone, danger }) {
  const dialog = useRef(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState(undefined);
  useEffect(() => { if (result) { const t = setTimeout(() => setResult(undefined), 8000); return () => clearTimeout(t); } }, [result]);
  const confirm = async () => {
    setBusy(true);
    try {
      setResult({ ok: true, text: await run() });
      onDone?.();
    } catch (error) {
      setResult({ ok: false, text: `Failed: ${error.message}` });
    } finally {
      setBusy(false);
      dialog.current?.close();
    }
  };
  return html`<span class="action">
    <button class=${danger ? 'danger' : ''} disabled=${count === 0} onClick=${() => dialog.current?.showModal()}>${label} (${n(count)})</button>
    <dialog ref=${dialog} aria-label=${label}>
      <p>${question}</p>
      <p><strong>This touches ${n(count)} job${count === 1 ? '' : 's'}</strong> (as counted a moment ago; the server acts on the jobs that match when you confirm).</p>
      <div class="buttons">
        <button onClick=${confirm} disabled=${busy} class=${danger ? 'danger' : 'primary'}>${busy ? 'Working…' : `Yes, ${label.toLowerCase()}`}</button>
        <button onClick=${() => dialog.current?.close()} disabled=${busy}>Keep them as they are</button>
      </div>
    </dialog>
    ${result && html`<span role="status" class=${result.ok ? 'ok' : 'error'}>${result.text}</span>`}
  </span>`;
}
