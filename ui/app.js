// The dashboard shell: asks for an API key when the API wants one, learns the key's scopes from
// GET /v1/me (to offer only the actions it may take), and routes on the URL hash.
import { api, apiKey } from './api.js';
import { DestinationPage } from './destination.js';
import { ErrorNote } from './format.js';
import { JobPage } from './job.js';
import { JobsPage } from './jobs.js';
import { html, render, useEffect, useState } from './lib.js';
import { Overview } from './overview.js';
import { SubmissionPage } from './submission.js';

function parseHash() {
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, search = ''] = raw.split('?');
  return { parts: path.split('/').filter(Boolean).map(decodeURIComponent), params: new URLSearchParams(search) };
}

function useRoute() {
  const [route, setRoute] = useState(parseHash());
  useEffect(() => {
    const onChange = () => { setRoute(parseHash()); window.scrollTo(0, 0); };
    addEventListener('hashchange', onChange);
    return () => removeEventListener('hashchange', onChange);
  }, []);
  return route;
}

function KeyForm({ refused, onKey }) {
  const [value, setValue] = useState('');
  return html`<main class="narrow">
    <h1>batch-router</h1>
    <form class="card" onSubmit=${(e) => { e.preventDefault(); if (value.trim()) onKey(value.trim()); }}>
      <h2>Enter an API key</h2>
      <p>This daemon requires an API key. It is kept in this browser tab only (session storage) and sent as an ${' '}<code>Authorization</code> header, never in a URL. Create one with <code>batch-router keys create</code>.</p>
      ${refused && html`<p class="error" role="alert">That key was refused (unknown or revoked). Check it and try again.</p>`}
      <label for="api-key">API key</label>
      <input id="api-key" type="password" autocomplete="off" spellcheck=${false} value=${value} onInput=${(e) => setValue(e.target.value)} autofocus />
      <button type="submit">Use this key</button>
    </form>
  </main>`;
}

function Page({ route, me }) {
  const [first, second] = route.parts;
  if (!first) return html`<${Overview} me=${me} />`;
  if (first === 'destinations' && second) return html`<${DestinationPage} id=${second} me=${me} />`;
  if (first === 'jobs' && second) return html`<${JobPage} id=${second} me=${me} />`;
  if (first === 'jobs') return html`<${JobsPage} params=${route.params} me=${me} />`;
  if (first === 'submissions') return html`<${SubmissionPage} id=${second} me=${me} />`;
  return html`<main><h1>Page not found</h1><p>There is no page at <code>#${location.hash.slice(1)}</code>. Go to the <a href="#/">overview</a>.</p></main>`;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState({ status: 'loading' });
  const check = async () => {
    try {
      setMe({ status: 'ok', ...(await api('/v1/me')) });
    } catch (error) {
      if (error.status === 401) setMe({ status: 'key', refused: Boolean(apiKey.get()) });
      else setMe({ status: 'error', error });
    }
  };
  useEffect(() => { check(); }, []);
  if (me.status === 'loading') return html`<p class="loading">Connecting to the API…</p>`;
  if (me.status === 'key') return html`<${KeyForm} refused=${me.refused} onKey=${(key) => { apiKey.set(key); check(); }} />`;
  if (me.status === 'error') return html`<main><${ErrorNote} error=${me.error} what="the API" /><button onClick=${check}>Try again</button></main>`;
  const section = route.parts[0] ?? '';
  const link = (href, label, active) => html`<a href=${href} aria-current=${active ? 'page' : undefined}>${label}</a>`;
  return html`<div>
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById('main')?.focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/">batch-router</a>
      <nav aria-label="Sections">
        ${link('#/', 'Overview', section === '' || section === 'destinations')}
        ${link('#/jobs', 'Jobs', section === 'jobs')}
        ${link('#/submissions', 'Submissions', section === 'submissions')}
        <a href="/docs">API reference</a>
      </nav>
      <span class="who" title=${`scopes: ${me.scopes.join(', ')}`}>
        ${me.keyRequired ? html`key “${me.name}”` : 'no keys configured (loopback only)'}
        ${me.keyRequired && html` <button class="link" onClick=${() => { apiKey.clear(); setMe({ status: 'key', refused: false }); }}>Change key</button>`}
      </span>
    </header>
    <div id="main" tabindex="-1"><${Page} route=${route} me=${me} /></div>
  </div>`;
}

render(html`<${App} />`, document.getElementById('app'));
