// The console's shell: signs in (token from the link's fragment, the tab's storage or the
// form), keeps the live stream open while signed in, and routes `#/<view>/<path>?<query>`
// to the views.

import { Api, ApiProblem } from './api.js';
import { find, h, replace } from './dom.js';
import { showProblem } from './dialogs.js';
import { LiveFeed, mountLive } from './live.js';
import { mountEvents } from './events.js';
import { mountEventDetail } from './event-detail.js';
import { mountEndpoints } from './endpoints.js';
import { mountSources } from './sources.js';
import { mountDlq } from './dlq.js';
import * as session from './session.js';

/**
 * @typedef {import('./types.js').Context} Context
 * @typedef {(view: HTMLElement, context: Context) => (() => void)} Mount
 */

/** @type {Record<string, {title: string, mount: Mount}>} */
const VIEWS = {
  live: { title: 'Live', mount: mountLive },
  events: { title: 'Events', mount: mountEvents },
  endpoints: { title: 'Endpoints', mount: mountEndpoints },
  sources: { title: 'Sources', mount: mountSources },
  dlq: { title: 'Dead letters', mount: mountDlq },
};
const EVENT_DETAIL = { title: 'Event', mount: mountEventDetail };

const page = {
  signin: find(document, '[data-testid="signin"]', HTMLElement),
  signinError: find(document, '[data-testid="signin-error"]', HTMLElement),
  signinForm: find(document, '[data-testid="signin-form"]', HTMLFormElement),
  signinToken: find(document, '[data-testid="signin-token"]', HTMLTextAreaElement),
  view: find(document, '[data-testid="view"]', HTMLElement),
  nav: find(document, '[data-testid="nav"]', HTMLElement),
  who: find(document, '[data-testid="who"]', HTMLElement),
  tenant: find(document, '[data-testid="tenant"]', HTMLElement),
  scopes: find(document, '[data-testid="scopes"]', HTMLElement),
  signOut: find(document, '[data-testid="sign-out"]', HTMLButtonElement),
  toasts: find(document, '[data-testid="toasts"]', HTMLElement),
  main: find(document, '#main', HTMLElement),
};

/** @type {string | null} */
let token = null;
/** @type {(() => void) | null} */
let unmount = null;

const api = new Api(() => token, (problem) => signOut(problem));
const live = new LiveFeed(() => token);

/**
 * Shows a short message for a few seconds (announced to screen readers).
 * @param {string} message
 * @param {'ok' | 'error'} [tone]
 */
function toast(message, tone = 'ok') {
  const note = h('div', { class: `toast ${tone}`, testid: 'toast' }, message);
  page.toasts.append(note);
  setTimeout(() => note.remove(), tone === 'error' ? 8000 : 4000);
}

/**
 * Uses `candidate` if the gateway accepts it; else shows the sign-in form with why not.
 * @param {string} candidate
 */
async function signIn(candidate) {
  token = candidate;
  try {
    // Any authenticated read proves the token; a 403 (valid, lacking `events:read`) is
    // still a valid sign-in, and the views say what the token may not do.
    await api.call('GET', '/events', { query: { limit: 1 } });
  } catch (error) {
    const problem = ApiProblem.from(error);
    if (problem.status === 401) return; // signOut already showed it.
    if (problem.status !== 403) {
      token = null;
      showSignIn(problem);
      return;
    }
  }
  session.keep(candidate);
  const claims = session.claims(candidate);
  page.tenant.textContent = claims?.tenant ?? '';
  page.tenant.title = claims?.expires
    ? `Tenant; the token expires ${new Date(claims.expires * 1000).toLocaleString()}`
    : 'Tenant';
  page.scopes.textContent = claims?.scopes.join(' ') ?? '';
  page.signin.hidden = true;
  page.nav.hidden = false;
  page.who.hidden = false;
  page.view.hidden = false;
  live.start();
  route();
}

/**
 * Forgets the token and shows the sign-in form, with the reason when there is one.
 * @param {ApiProblem | null} problem
 */
function signOut(problem) {
  token = null;
  session.forget();
  live.stop();
  unmount?.();
  unmount = null;
  replace(page.view);
  showSignIn(problem);
}

/** @param {ApiProblem | null} problem */
function showSignIn(problem) {
  page.view.hidden = true;
  page.nav.hidden = true;
  page.who.hidden = true;
  page.signin.hidden = false;
  if (problem) {
    showProblem(page.signinError, problem);
  } else {
    page.signinError.hidden = true;
  }
  document.title = 'Sign in · Switchyard console';
  page.signinToken.focus();
}

/** Mounts the view the fragment names. */
function route() {
  if (token === null) return;
  const [pathPart = '', queryPart = ''] = location.hash.replace(/^#\/?/, '').split('?');
  const [name = '', ...path] = pathPart.split('/').filter(Boolean).map(decodeURIComponent);
  const known = VIEWS[name];
  if (!known) {
    history.replaceState(null, '', '#/live');
  }
  const view = name === 'events' && path.length > 0 ? EVENT_DETAIL : known ?? VIEWS['live'];
  const current = known ? name : 'live';
  for (const link of page.nav.querySelectorAll('a')) {
    if (link.dataset['route'] === current) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
  unmount?.();
  unmount = null;
  page.view.dataset['view'] = view === EVENT_DETAIL ? 'event' : current;
  document.title = `${view.title} · Switchyard console`;
  unmount = view.mount(page.view, { api, live, toast, params: new URLSearchParams(queryPart), path });
  // Move focus to the new view's heading, so keyboard and screen-reader users start there.
  const title = page.view.querySelector('h1');
  if (title instanceof HTMLElement && document.activeElement !== page.signinToken) {
    title.focus({ preventScroll: true });
  }
}

page.signinForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const candidate = session.normalize(page.signinToken.value);
  if (!candidate) {
    showSignIn(new ApiProblem(0, 'No token', 'paste a bearer token (a JWT) for your tenant'));
    return;
  }
  page.signinToken.value = '';
  signIn(candidate);
});
page.signOut.addEventListener('click', () => signOut(null));
window.addEventListener('hashchange', () => {
  // A link with a new token (`#token=...`) while signed in: switch to it.
  const fresh = session.takeFromFragment();
  if (fresh) {
    live.stop();
    signIn(fresh);
  } else {
    route();
  }
});

const initial = session.takeFromFragment() ?? session.stored();
if (initial) {
  signIn(initial);
} else {
  showSignIn(null);
}
