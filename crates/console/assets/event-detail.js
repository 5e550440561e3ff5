// One event: its CloudEvent attributes, its payload pretty-printed, and every delivery
// attempt (status, endpoint, timing, error), refreshed while the page is open. An event just
// seen live may not be in the event store yet (the audit writer stores it within seconds):
// the live copy is shown meanwhile and the store asked again.

import { ApiProblem } from './api.js';
import { h, empty, replace, table } from './dom.js';
import { ago, base64Text, duration, pretty, when } from './format.js';
import { problemBox } from './dialogs.js';

/** How often the deliveries (and a not-yet-stored event) are asked for again: often while
 * attempts are likely to change, then less. */
const REFRESH_MS = 3000;
const SLOW_REFRESH_MS = 15000;
const SLOW_AFTER_MS = 60000;

/**
 * @typedef {import('./types.js').CloudEvent} CloudEvent
 * @typedef {import('./types.js').DeliveryAttempt} DeliveryAttempt
 */

/**
 * The detail view of event `path[0]`.
 * @param {HTMLElement} view
 * @param {import('./types.js').Context} context
 * @returns {() => void}
 */
export function mountEventDetail(view, { api, live, path }) {
  const id = path[0] ?? '';
  const notice = h('p', { class: 'note', role: 'status', testid: 'detail-notice', hidden: true });
  const body = h('div', { class: 'detail', 'aria-busy': 'true' }, h('p', { class: 'muted' }, 'Loading…'));
  const deliveries = h('div', { testid: 'deliveries-body' });
  const refreshed = h('span', { class: 'muted small' });
  replace(view,
    h('nav', { class: 'crumbs', 'aria-label': 'Breadcrumb' },
      h('a', { href: '#/live' }, 'Live'), ' / ', h('a', { href: '#/events' }, 'Events'), ' / ',
      h('span', { 'aria-current': 'page', class: 'mono' }, id)),
    notice,
    body,
    h('section', { class: 'card', testid: 'deliveries', 'aria-labelledby': 'deliveries-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'deliveries-title' }, 'Delivery attempts'),
        refreshed,
        h('button', { type: 'button', class: 'quiet', testid: 'deliveries-refresh', onclick: () => loadDeliveries() }, 'Refresh')),
      deliveries));

  let gone = false;
  let stored = false;
  const opened = Date.now();
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer;
  const again = () => {
    clearTimeout(timer);
    const wait = Date.now() - opened < SLOW_AFTER_MS ? REFRESH_MS : SLOW_REFRESH_MS;
    if (!gone) timer = setTimeout(tick, wait);
  };
  const loadEvent = async () => {
    try {
      /** @type {CloudEvent} */
      const event = await api.get(`/events/${encodeURIComponent(id)}`);
      if (gone) return;
      stored = true;
      notice.hidden = true;
      replace(body, describe(event));
    } catch (error) {
      if (gone) return;
      const problem = ApiProblem.from(error);
      const seen = live.find(id);
      if (problem.status === 404 && seen) {
        notice.textContent = 'Seen live; not in the event store yet (it is stored within seconds). Checking again…';
        notice.hidden = false;
        if (body.dataset['live'] !== 'true') replace(body, describe(seen));
        body.dataset['live'] = 'true';
      } else {
        replace(body, problemBox(problem, 'detail-error'));
      }
    } finally {
      body.setAttribute('aria-busy', 'false');
    }
  };
  const loadDeliveries = async () => {
    try {
      /** @type {DeliveryAttempt[]} */
      const attempts = await api.get(`/events/${encodeURIComponent(id)}/deliveries`);
      if (gone) return;
      replace(deliveries, attempts.length === 0
        ? empty('No delivery attempts yet',
          'Attempts appear here when an endpoint subscribes to this type. None is shown when no endpoint matches.',
          'deliveries-empty')
        : table('Delivery attempts', ['#', 'Outcome', 'Endpoint', 'Status', 'Duration', 'Attempted', 'Next attempt', 'Error'],
          attempts.map(attemptRow), 'delivery-table'));
      refreshed.textContent = `Updated ${new Date().toLocaleTimeString()}`;
    } catch (error) {
      if (gone) return;
      const problem = ApiProblem.from(error);
      if (problem.status === 404 && !stored) {
        replace(deliveries, empty('No delivery attempts yet', 'The event is not stored yet.', 'deliveries-empty'));
      } else {
        replace(deliveries, problemBox(problem, 'deliveries-error'));
      }
    }
  };
  const tick = async () => {
    if (!stored) await loadEvent();
    if (document.visibilityState === 'visible') await loadDeliveries();
    again();
  };
  tick();
  return () => {
    gone = true;
    clearTimeout(timer);
  };
}

/**
 * The event's attributes and payload.
 * @param {CloudEvent} event
 * @returns {HTMLElement}
 */
function describe(event) {
  /** @type {[string, string | HTMLElement][]} */
  const attributes = [
    ['id', h('code', { testid: 'detail-id' }, event.id)],
    ['type', event.type],
    ['source', h('code', {}, event.source)],
    ['subject', event.subject ?? '—'],
    ['time', h('time', { datetime: event.time, title: ago(event.time) }, `${when(event.time)} (${ago(event.time)})`)],
    ['tenant', event.tenant],
    ['datacontenttype', event.datacontenttype ?? '—'],
    ['specversion', event.specversion],
  ];
  let payload;
  if (event.data !== undefined) {
    payload = h('pre', { class: 'json', testid: 'event-payload', tabindex: 0 }, pretty(event.data));
  } else if (event.data_base64 !== undefined) {
    const text = base64Text(event.data_base64);
    payload = h('div', {},
      h('p', { class: 'muted small' }, text === null ? 'Binary data, base64:' : 'Not JSON; shown as text:'),
      h('pre', { class: 'json', testid: 'event-payload', tabindex: 0 }, text ?? event.data_base64));
  } else {
    payload = h('p', { class: 'muted', testid: 'event-payload' }, 'No data.');
  }
  return h('div', { class: 'detail-grid' },
    h('section', { class: 'card', 'aria-labelledby': 'detail-title', testid: 'event-detail' },
      h('div', { class: 'card-head' }, h('h1', { id: 'detail-title', tabindex: -1, testid: 'detail-type' }, event.type)),
      h('dl', { class: 'attributes' }, attributes.map(([name, value]) => [h('dt', {}, name), h('dd', {}, value)]))),
    h('section', { class: 'card', 'aria-labelledby': 'payload-title' },
      h('div', { class: 'card-head' },
        h('h2', { id: 'payload-title' }, 'Payload'),
        h('button', {
          type: 'button', class: 'quiet', testid: 'payload-copy',
          onclick: (e) => copyText(/** @type {HTMLButtonElement} */ (e.currentTarget), payload.textContent ?? ''),
        }, 'Copy')),
      payload));
}

/**
 * @param {DeliveryAttempt} attempt
 * @returns {HTMLTableRowElement}
 */
function attemptRow(attempt) {
  return h('tr', { testid: 'delivery', 'data-outcome': attempt.outcome },
    h('td', {}, String(attempt.attempt)),
    h('td', {}, h('span', { class: `badge ${attempt.outcome}` }, attempt.outcome)),
    h('td', {}, h('a', { href: `#/endpoints?focus=${encodeURIComponent(attempt.endpoint_id)}` }, attempt.endpoint_id),
      h('div', { class: 'mono small muted wrap' }, attempt.url)),
    h('td', { class: 'mono' }, attempt.response_status ? String(attempt.response_status) : '—'),
    h('td', { class: 'nowrap' }, duration(attempt.duration_ms)),
    h('td', { class: 'nowrap' }, when(attempt.attempted_at)),
    h('td', { class: 'nowrap' }, attempt.next_attempt_at ? when(attempt.next_attempt_at) : '—'),
    attempt.error ? h('td', { class: 'error-text' }, attempt.error) : h('td', { class: 'none' }, '—'));
}

/**
 * @param {HTMLButtonElement} button
 * @param {string} text
 */
async function copyText(button, text) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = 'Copied';
  } catch {
    button.textContent = 'Copy failed';
  }
  setTimeout(() => { button.textContent = 'Copy'; }, 2000);
}
