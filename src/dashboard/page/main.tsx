/**
 * The dashboard page: reads the token, asks the server who it is, and shows
 * the view the address names (`#/` runs, `#/runs/<id>` a run, `#/workers`
 * workers and queues).
 *
 * @packageDocumentation
 */
import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { ApiError, adoptToken, get, setToken } from './api.js';
import type { Me } from './api-types.js';
import { RunPage } from './views/run-page.js';
import { RunsList } from './views/runs-list.js';
import { TokenForm } from './views/token-form.js';
import { WorkersPage } from './views/workers-page.js';
import './app.css';

function useRoute(): string {
  const [route, setRoute] = useState(location.hash);
  useEffect(() => {
    const changed = (): void => setRoute(location.hash);
    addEventListener('hashchange', changed);
    return () => removeEventListener('hashchange', changed);
  }, []);
  return route;
}

function App() {
  const route = useRoute();
  const [me, setMe] = useState<Me | ApiError | undefined>(undefined);
  const [attempt, setAttempt] = useState(0);
  useEffect(() => {
    get<Me>('/api/me').then(setMe, (error: ApiError) => setMe(error));
  }, [attempt]);
  if (me === undefined) return <p class="loading">Loading…</p>;
  if (me instanceof ApiError) {
    return (
      <TokenForm
        error={me}
        onToken={(token) => {
          setToken(token);
          setAttempt(attempt + 1);
        }}
      />
    );
  }
  const run = /^#\/runs\/(.+)$/.exec(route);
  return (
    <div class="app" data-role={me.role}>
      <header>
        <a class="brand" href="#/">taskwire</a>
        <nav>
          <a href="#/" class={run === null && !route.startsWith('#/workers') ? 'active' : ''}>Runs</a>
          <a href="#/workers" class={route.startsWith('#/workers') ? 'active' : ''}>Workers &amp; queues</a>
        </nav>
        <span class="who" title={`taskwire ${me.version} · ${me.store} store · ${me.transport} transport`}>
          {me.name} <span class={`role role-${me.role}`}>{me.role}</span>
        </span>
      </header>
      <main>{run !== null ? <RunPage key={run[1]} id={decodeURIComponent(run[1]!)} me={me} /> : route.startsWith('#/workers') ? <WorkersPage me={me} /> : <RunsList />}</main>
    </div>
  );
}

adoptToken();
render(<App />, document.getElementById('app')!);
