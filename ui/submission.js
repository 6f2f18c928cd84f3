// A submission as it happens, from its SSE stream (read with fetch, so the key stays in a header),
// and the delivery of its completion callback: attempts, the receiver's last answer, the schedule.
import { api, stream } from './api.js';
import { ErrorNote, Progress, STATES, StateBadge, Time, n } from './format.js';
import { html, useEffect, useState } from './lib.js';

function Lookup() {
  const [value, setValue] = useState('');
  return html`<main><h1>Submissions</h1>
    <form class="filters" onSubmit=${(e) => { e.preventDefault(); if (value.trim()) location.hash = `#/submissions/${encodeURIComponent(value.trim())}`; }}>
      <label>Submission id <input value=${value} onInput=${(e) => setValue(e.target.value)} placeholder="sub_…" /></label>
      <button type="submit" class="primary">Follow</button>
    </form>
    <p class="muted">The id is in the answer to <code>POST /v1/destinations/{id}/events</code>, and on each job's page.</p></main>`;
}

function Callback({ callback }) {
  if (!callback) return html`<p class="muted">No callback URL was given with this submission.</p>`;
  return html`<dl class="figures">
    <div><dt>URL</dt><dd><code>${callback.url}</code></dd></div>
    <div><dt>State</dt><dd><${StateBadge} state=${callback.state} /></dd></div>
    <div><dt>Attempts</dt><dd>${n(callback.attempts)}</dd></div>
    <div><dt>Last answer</dt><dd>${callback.lastStatus ? `HTTP ${callback.lastStatus}` : callback.attempts ? 'no answer' : '—'}${callback.lastError ? html`<div class="reason">${callback.lastError}</div>` : ''}</dd></div>
    <div><dt>Last attempt</dt><dd><${Time} at=${callback.lastAttemptAt} /></dd></div>
    <div><dt>Next attempt</dt><dd><${Time} at=${callback.nextAttemptAt} /></dd></div>
  </dl>`;
}

export function SubmissionPage({ id }) {
  const [sub, setSub] = useState(undefined);
  const [error, setError] = useState(undefined);
  const [live, setLive] = useState('connecting');
  useEffect(() => {
    if (!id) return undefined;
    const abort = new AbortController();
    setSub(undefined); setError(undefined);
    (async () => {
      try {
        setSub(await api(`/v1/submissions/${encodeURIComponent(id)}`, { signal: abort.signal }));
        setLive('live');
        await stream(`/v1/submissions/${encodeURIComponent(id)}/events`, (_name, data) => setSub(data), abort.signal);
        setLive('ended');
      } catch (e) {
        if (!abort.signal.aborted) { setError(e); setLive('ended'); }
      }
    })();
    return () => abort.abort();
  }, [id]);
  if (!id) return html`<${Lookup} />`;
  if (!sub) return html`<main><h1>Submission ${id}</h1>${error ? html`<${ErrorNote} error=${error} what=${`submission ${id}`} />` : html`<p class="loading">Loading…</p>`}</main>`;
  return html`<main>
    <p class="crumbs"><a href=${`#/destinations/${encodeURIComponent(sub.destinationId)}`}>${sub.destinationId}</a> › submission</p>
    <h1>Submission ${sub.id} <${StateBadge} state=${sub.state} /></h1>
    <p aria-live="polite" class="muted">${live === 'live' && !sub.done ? 'Following live (server-sent events).' : sub.done ? 'Every job is final.' : 'The live stream ended; reload to follow again.'}</p>
    <${ErrorNote} error=${error} what="the live stream" />
    <p data-testid="submission-progress"><${Progress} value=${sub.progress} label="jobs final" /> ${n(sub.counts.total)} jobs, accepted <${Time} at=${sub.createdAt} /></p>
    <dl class="figures">${STATES.map((s) => html`<div><dt>${s}</dt><dd data-state=${s}>${n(sub.counts[s])}</dd></div>`)}</dl>
    <p><a href=${`#/jobs?submissionId=${encodeURIComponent(sub.id)}`}>List its jobs</a></p>
    ${sub.errors.length > 0 && html`<h2>First failures</h2><ul>${sub.errors.map((e) => html`<li><a href=${`#/jobs/${e.jobId}`}>job ${e.jobId}</a> ${e.state}: <span class="reason">${e.reason}</span></li>`)}</ul>`}
    <h2>Completion callback</h2><${Callback} callback=${sub.callback} />
  </main>`;
}
