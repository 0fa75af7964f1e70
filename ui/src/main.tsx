/**
 * The Mantle web UI: a shell (navigation, connection state, login when authentication is on) around
 * the pages, fed by one SUBSCRIBE stream and a sampler of the agents and roles.
 */
import { render } from 'preact';
import { useEffect, useLayoutEffect, useState } from 'preact/hooks';
import { credential, forgetCredential, getJson, LoginRequired, saveCredential } from './api.js';
import { Link, useLocation } from './router.js';
import { sample, SAMPLE_MS, series } from './series.js';
import { cluster, follow, useCluster } from './store.js';
import { Agents } from './pages/agents.js';
import { Frameworks } from './pages/frameworks.js';
import { Jobs } from './pages/jobs.js';
import { Overview } from './pages/overview.js';
import { Roles } from './pages/roles.js';
import { Services } from './pages/services.js';
import { Tasks } from './pages/tasks.js';
import './style.css';

const PAGES = [
  { path: '/', title: 'Overview', page: Overview },
  { path: '/ui/agents', title: 'Agents', page: Agents },
  { path: '/ui/frameworks', title: 'Frameworks', page: Frameworks },
  { path: '/ui/tasks', title: 'Tasks', page: Tasks },
  { path: '/ui/roles', title: 'Roles', page: Roles },
  { path: '/ui/jobs', title: 'Jobs', page: Jobs },
  { path: '/ui/services', title: 'Services', page: Services },
];

function Login(props: { onLogin: () => void; refused: boolean }) {
  return (
    <main id="main" class="login">
      <h1>Sign in to Mantle</h1>
      <p>This master has authentication on: sign in as an operator principal.</p>
      {props.refused && <p role="alert">The master refused these credentials.</p>}
      <form
        onSubmit={(event) => {
          event.preventDefault();
          const data = new FormData(event.currentTarget);
          saveCredential(String(data.get('principal') ?? ''), String(data.get('secret') ?? ''));
          props.onLogin();
        }}
      >
        <label>
          Principal <input name="principal" autoComplete="username" />
        </label>
        <label>
          Secret or token <input name="secret" type="password" autoComplete="current-password" required />
        </label>
        <p class="note">Leave the principal empty to sign in with a Bearer token.</p>
        <button type="submit">Sign in</button>
      </form>
    </main>
  );
}

/**
 * Runs the stream and the sampler while signed in; `onLogin` once, at the first 401 of a session.
 * A layout effect: it runs as the first render commits, so the stream is asked for before the first
 * paint (a plain effect waits for it, a few hundred ms of a first load).
 */
function useLive(onLogin: () => void, session: number, enabled: boolean): void {
  useLayoutEffect(() => {
    if (!enabled) return;
    const controller = new AbortController();
    const refused = () => {
      if (controller.signal.aborted) return;
      controller.abort();
      onLogin();
    };
    void follow(cluster, controller.signal, refused);
    const tick = () =>
      sample(cluster, series, controller.signal).catch((error: unknown) => {
        if (error instanceof LoginRequired) refused();
      });
    void tick();
    const timer = setInterval(() => void tick(), SAMPLE_MS);
    return () => {
      controller.abort();
      clearInterval(timer);
    };
  }, [session, enabled]);
}

function App() {
  const [needLogin, setNeedLogin] = useState(false);
  const [session, setSession] = useState(0);
  const [services, setServices] = useState(false);
  const url = useLocation();
  const state = useCluster();
  const [refused, setRefused] = useState(false);
  useLive(
    () => {
      // A 401 with a credential kept: the master refused it (wrong secret, or a principal since removed).
      setRefused(credential() !== null);
      forgetCredential();
      setNeedLogin(true);
    },
    session,
    !needLogin,
  );
  useEffect(() => {
    getJson('/v2/info').then(
      () => setServices(true),
      () => setServices(false),
    );
  }, [session]);
  const path = url.pathname.replace(/\/$/, '') || '/';
  const current = PAGES.find((page) => page.path === path) ?? PAGES[0];
  const Page = current?.page ?? Overview;
  useEffect(() => {
    document.title = `${current?.title ?? 'Mantle'} · Mantle`;
  }, [current]);
  if (needLogin) {
    return <Login refused={refused} onLogin={() => (setNeedLogin(false), setSession((n) => n + 1))} />;
  }
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <span class="brand">Mantle</span>
        <nav aria-label="Pages">
          {PAGES.filter((page) => page.path !== '/ui/services' || services).map((page) => (
            <Link key={page.path} href={page.path} current={page === current}>
              {page.title}
            </Link>
          ))}
        </nav>
        <span class={state.connected ? 'live on' : 'live'} role="status">
          {state.connected ? 'live' : state.error ? `disconnected: ${state.error}` : 'connecting…'}
        </span>
        {credential() && (
          <button type="button" onClick={() => (forgetCredential(), setRefused(false), setNeedLogin(true))}>
            Sign out
          </button>
        )}
      </header>
      <main id="main" tabIndex={-1}>
        <Page />
      </main>
    </>
  );
}

const root = document.getElementById('app');
if (root) render(<App />, root);
