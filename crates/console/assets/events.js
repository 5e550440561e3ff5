// Event search: `GET /v1/events` with its filters, newest (or oldest) first, more pages by
// the keyset cursor. The filters live in the address (`#/events?type=...`), so a search can
// be shared and survives a reload.

import { h, heading, empty, field, labelled, replace, table } from './dom.js';
import { fromLocalInput, preview, toLocalInput, when } from './format.js';
import { problemBox } from './dialogs.js';

/**
 * @typedef {import('./types.js').CloudEvent} CloudEvent
 * @typedef {import('./types.js').EventPage} EventPage
 */

/** The query parameters the search form sets. */
const FILTERS = ['type', 'subject', 'since', 'until', 'order', 'limit'];

/**
 * The search view.
 * @param {HTMLElement} view
 * @param {import('./types.js').Context} context
 * @returns {() => void}
 */
export function mountEvents(view, { api, params }) {
  const value = (/** @type {string} */ name) => params.get(name) ?? '';
  const order = h('select', { id: 'search-order', name: 'order', testid: 'search-order' },
    h('option', { value: 'newest', selected: value('order') !== 'oldest' }, 'Newest first'),
    h('option', { value: 'oldest', selected: value('order') === 'oldest' }, 'Oldest first'));
  const form = h('form', { class: 'filters', role: 'search', testid: 'search-form' },
    labelled('Type', { id: 'search-type', name: 'type', value: value('type'), testid: 'search-type', placeholder: 'razorpay.payment.*', autocomplete: 'off' }),
    labelled('Subject', { id: 'search-subject', name: 'subject', value: value('subject'), testid: 'search-subject', autocomplete: 'off' }),
    labelled('Since', { id: 'search-since', name: 'since', type: 'datetime-local', step: 1, value: toLocalInput(params.get('since')) }),
    labelled('Until', { id: 'search-until', name: 'until', type: 'datetime-local', step: 1, value: toLocalInput(params.get('until')) }),
    h('div', { class: 'field' }, h('label', { for: 'search-order' }, 'Order'), order),
    labelled('Page size', { id: 'search-limit', name: 'limit', type: 'number', min: 1, max: 1000, value: value('limit') || '50' }),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', testid: 'search-submit' }, 'Search'),
      h('a', { href: '#/events', class: 'button quiet' }, 'Reset')));
  const results = h('div', { class: 'results', 'aria-live': 'polite', 'aria-busy': 'true' });
  replace(view, heading('Events'), form, results);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const name of FILTERS) {
      let text = field(form, name);
      if (name === 'since' || name === 'until') text = fromLocalInput(text) ?? '';
      if (name === 'order' && text === 'newest') text = '';
      if (text) query.set(name, text);
    }
    const hash = `#/events${query.size ? `?${query}` : ''}`;
    // The same search again still runs (a refresh).
    if (location.hash === hash) load(null, true);
    else location.hash = hash;
  });

  /** @type {CloudEvent[]} */
  let shown = [];
  let gone = false;
  /**
   * @param {string | null} cursor
   * @param {boolean} fresh
   */
  const load = async (cursor, fresh) => {
    results.setAttribute('aria-busy', 'true');
    /** @type {Record<string, string>} */
    const query = {};
    for (const name of FILTERS) if (params.get(name)) query[name] = value(name);
    if (!query['limit']) query['limit'] = '50';
    if (cursor) query['cursor'] = cursor;
    try {
      /** @type {EventPage} */
      const page = await api.get('/events', query);
      if (gone) return;
      shown = fresh ? page.data : [...shown, ...page.data];
      render(page.next_cursor);
    } catch (error) {
      if (!gone) replace(results, problemBox(error));
    } finally {
      results.setAttribute('aria-busy', 'false');
    }
  };
  /** @param {string | null} next */
  const render = (next) => {
    if (shown.length === 0) {
      const filtered = FILTERS.some((name) => name !== 'limit' && name !== 'order' && params.get(name));
      replace(results, empty('No events',
        filtered ? 'Nothing matches these filters. Widen the time range or clear a filter.'
          : 'This tenant has no stored events yet. Send a webhook to a source, or publish one.',
        'search-empty'));
      return;
    }
    const more = next
      ? h('button', { type: 'button', testid: 'search-more', onclick: () => load(next, false) }, 'Load more')
      : h('p', { class: 'muted small' }, 'End of results.');
    replace(results,
      h('p', { class: 'muted small', testid: 'search-count' }, `${shown.length} event${shown.length === 1 ? '' : 's'}`),
      table('Events', ['Time', 'Type', 'Subject', 'Source', 'Data'], shown.map(row), 'search-results'),
      h('div', { class: 'actions' }, more));
  };
  load(null, true);
  return () => { gone = true; };
}

/**
 * @param {CloudEvent} event
 * @returns {HTMLTableRowElement}
 */
function row(event) {
  const href = `#/events/${encodeURIComponent(event.id)}`;
  return h('tr', { testid: 'search-row', 'data-event-id': event.id },
    h('td', { class: 'nowrap' }, h('a', { href }, h('time', { datetime: event.time }, when(event.time)))),
    h('td', {}, h('a', { href, class: 'type' }, event.type)),
    h('td', {}, event.subject ?? ''),
    h('td', { class: 'mono small' }, event.source),
    h('td', { class: 'data mono small' }, event.data !== undefined ? preview(event.data, 80) : event.data_base64 ? '(binary)' : ''));
}
