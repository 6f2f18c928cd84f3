// GET /v1/jobs with its filters in the URL hash (so a filtered view can be bookmarked or shared,
// since it holds no secret) and keyset paging: "Next" follows nextCursor, "Previous" pops a stack.
import { api, query } from './api.js';
import { ErrorNote, STATES, StateBadge, Time, n } from './format.js';
import { html, useEffect, useState } from './lib.js';

const FILTERS = ['destinationId', 'state', 'submissionId', 'createdAfter', 'createdBefore'];
const PAGE = 50;

/** datetime-local works in the browser's zone without seconds; the API wants an ISO instant. */
const toLocalInput = (iso) => { if (!iso) return ''; const d = new Date(iso); return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16); };
const fromLocalInput = (value) => (value ? new Date(value).toISOString() : '');

function FilterForm({ filters, destinations }) {
  const [form, setForm] = useState(filters);
  useEffect(() => setForm(filters), [JSON.stringify(filters)]);
  const set = (name) => (e) => setForm({ ...form, [name]: e.target.value });
  const submit = (e) => { e.preventDefault(); location.hash = `#/jobs${query(form)}`; };
  return html`<form class="filters" onSubmit=${submit} aria-label="Job filters">
    <label>Destination <select value=${form.destinationId ?? ''} onChange=${set('destinationId')}>
      <option value="">all</option>${destinations.map((d) => html`<option value=${d}>${d}</option>`)}</select></label>
    <label>State <select value=${form.state ?? ''} onChange=${set('state')}>
      <option value="">all</option><option value="waiting,executing,importing">open (waiting, executing, importing)</option>
      ${STATES.map((s) => html`<option value=${s}>${s}</option>`)}</select></label>
    <label>Submission <input value=${form.submissionId ?? ''} onInput=${set('submissionId')} placeholder="sub_…" /></label>
    <label>Created after <input type="datetime-local" value=${toLocalInput(form.createdAfter)} onInput=${(e) => setForm({ ...form, createdAfter: fromLocalInput(e.target.value) })} /></label>
    <label>Created before <input type="datetime-local" value=${toLocalInput(form.createdBefore)} onInput=${(e) => setForm({ ...form, createdBefore: fromLocalInput(e.target.value) })} /></label>
    <span class="buttons"><button type="submit" class="primary">Show jobs</button> <a href="#/jobs">Clear filters</a></span>
  </form>`;
}

export function JobsPage({ params }) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, params.get(f) ?? undefined]).filter(([, v]) => v));
  const key = JSON.stringify(filters);
  const [cursors, setCursors] = useState([]); // cursors of the pages before the current one
  const [page, setPage] = useState({ cursor: undefined, data: undefined, error: undefined });
  const [destinations, setDestinations] = useState([]);
  useEffect(() => { api('/v1/destinations').then((r) => setDestinations(r.destinations.map((d) => d.id)), () => {}); }, []);
  const load = async (cursor) => {
    try {
      setPage({ cursor, data: await api(`/v1/jobs${query({ ...filters, limit: PAGE, cursor })}`), error: undefined });
    } catch (error) {
      setPage({ cursor, data: undefined, error });
    }
  };
  useEffect(() => { setCursors([]); load(undefined); }, [key]);
  const jobs = page.data?.jobs;
  return html`<main>
    <h1>Jobs</h1>
    <${FilterForm} filters=${filters} destinations=${destinations} />
    <${ErrorNote} error=${page.error} what="jobs" />
    ${jobs && jobs.length === 0 && html`<p class="empty">No job matches these filters. Widen the time range, pick another state, or <a href="#/jobs">clear the filters</a>.</p>`}
    ${jobs && jobs.length > 0 && html`<div class="table-scroll" tabindex="0" role="region" aria-label="Jobs table"><table class="jobs">
      <thead><tr><th scope="col">Job</th><th scope="col">Destination</th><th scope="col">State</th><th scope="col" class="num">Attempts</th><th scope="col">Reason or last error</th><th scope="col">Created</th><th scope="col">Updated</th></tr></thead>
      <tbody>${jobs.map((j) => html`<tr key=${j.id}>
        <td><a href=${`#/jobs/${j.id}`}>${j.id}</a></td><td>${j.destinationId}</td><td><${StateBadge} state=${j.state} /></td>
        <td class="num">${n(j.attempts)}</td><td class="reason">${j.reason ?? j.lastError ?? ''}</td><td><${Time} at=${j.createdAt} /></td><td><${Time} at=${j.updatedAt} /></td>
      </tr>`)}</tbody></table></div>`}
    <nav class="pager" aria-label="Pages">
      <button disabled=${cursors.length === 0} onClick=${() => { const prev = cursors.slice(0, -1); setCursors(prev); load(cursors[cursors.length - 1]); }}>Previous page</button>
      <span class="muted">Page ${cursors.length + 1}, ${PAGE} per page, newest first</span>
      <button disabled=${!page.data?.nextCursor} onClick=${() => { setCursors([...cursors, page.cursor]); load(page.data.nextCursor); }}>Next page</button>
    </nav>
  </main>`;
}
