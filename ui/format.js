// Words and times as a person reads them: local zone, the exact ISO instant on hover.
import { html } from './lib.js';

export const STATES = ['waiting', 'executing', 'importing', 'succeeded', 'aborted', 'cancelled'];

const number = new Intl.NumberFormat();
export const n = (value) => (value === null || value === undefined ? '—' : number.format(value));

export function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—';
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  if (seconds < 90) return `${Math.round(seconds)} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${Math.round(seconds / 86400)} d`;
}

/** A time in the browser's zone; the title (hover) and datetime attribute carry the exact instant. */
export function Time({ at }) {
  if (!at) return html`<span>—</span>`;
  const date = new Date(at);
  const ago = (Date.now() - date.getTime()) / 1000;
  const text = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const relative = ago < 0 || ago >= 86400 ? '' : ago < 2 ? ' (just now)' : ` (${duration(ago)} ago)`;
  return html`<time datetime=${date.toISOString()} title=${`${date.toISOString()} (UTC) — ${date.toString()}`}>${text}${relative}</time>`;
}

/** A state in words with a coloured marker: the colour helps, the word is what carries the meaning. */
export function StateBadge({ state }) {
  return html`<span class=${`badge state-${state}`}>${state}</span>`;
}

export function Progress({ value, label }) {
  const pct = Math.max(0, Math.min(100, Math.round(value ?? 0)));
  return html`<span class="progress-wrap"><progress max="100" value=${pct} aria-label=${label}>${pct}%</progress> <span class="muted">${pct}%</span></span>`;
}

/** Sixty bars, one per minute; the accessible label states the total and the latest minute. */
export function MinuteChart({ series }) {
  const values = series ?? [];
  const max = Math.max(1, ...values);
  const total = values.reduce((a, b) => a + b, 0);
  const w = 90, hgt = 24, bar = w / Math.max(1, values.length);
  const d = values.map((v, i) => (v > 0 ? `M${(i * bar).toFixed(1)} ${hgt}V${(hgt - (v / max) * hgt).toFixed(1)}` : '')).join('');
  const label = `${n(total)} delivered in the last hour; ${n(values[values.length - 1] ?? 0)} this minute; peak ${n(max === 1 && total === 0 ? 0 : max)} per minute`;
  return html`<span class="chart"><svg viewBox=${`0 0 ${w} ${hgt}`} width=${w} height=${hgt} role="img" aria-label=${label}>
    <title>${label}</title><line x1="0" y1=${hgt - 0.5} x2=${w} y2=${hgt - 0.5} class="axis"/><path d=${d} stroke-width=${Math.max(1, bar - 0.5)} class="bars"/></svg>
    <span class="muted">${n(total)}/h</span></span>`;
}

export function ErrorNote({ error, what }) {
  if (!error) return null;
  let advice = 'Check that batch-router is running and reload.';
  if (error.status === 401) advice = 'Your API key was refused: use “Change key” at the top and enter a valid key.';
  else if (error.status === 403) advice = 'Your API key lacks the scope for this; ask an administrator for a key with it.';
  else if (error.status === 404) advice = 'It does not exist or this key may not see it; check the id.';
  else if (error.status === 429) advice = 'Too many requests for this key; the page retries by itself.';
  return html`<div class="error" role="alert"><strong>Could not load ${what}:</strong> ${error.message}. ${advice}</div>`;
}
