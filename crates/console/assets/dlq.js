// Dead letters: records no consumer could handle, newest first, filterable, with their
// payload; a redrive sends one again (a failed delivery to its endpoint only).

import { h, heading, empty, field, labelled, replace, table } from './dom.js';
import { base64Text, pretty, when } from './format.js';
import { ApiProblem } from './api.js';
import { confirmDialog, problemBox } from './dialogs.js';

/**
 * @typedef {import('./types.js').DeadLetter} DeadLetter
 * @typedef {{data: DeadLetter[], next_cursor: string | null}} DeadLetterPage
 */

const FILTERS = ['topic', 'endpoint', 'redriven'];

/**
 * The DLQ view.
 * @param {HTMLElement} view
 * @param {import('./types.js').Context} context
 * @returns {() => void}
 */
export function mountDlq(view, { api, params, toast }) {
  const value = (/** @type {string} */ name) => params.get(name) ?? '';
  const form = h('form', { class: 'filters', role: 'search', testid: 'dlq-filter' },
    labelled('Topic', { id: 'dlq-topic', name: 'topic', value: value('topic'), placeholder: 'switchyard.events', autocomplete: 'off' }),
    labelled('Endpoint', { id: 'dlq-endpoint', name: 'endpoint', value: value('endpoint'), autocomplete: 'off' }),
    h('div', { class: 'field' },
      h('label', { for: 'dlq-redriven' }, 'Redriven'),
      h('select', { id: 'dlq-redriven', name: 'redriven' },
        h('option', { value: '', selected: value('redriven') === '' }, 'Any'),
        h('option', { value: 'false', selected: value('redriven') === 'false' }, 'Not yet'),
        h('option', { value: 'true', selected: value('redriven') === 'true' }, 'At least once'))),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary' }, 'Filter'),
      h('a', { href: '#/dlq', class: 'button quiet' }, 'Reset')));
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  replace(view,
    heading('Dead letters'),
    h('p', { class: 'muted' }, 'Records a consumer gave up on after its retries, kept until redriven.'),
    form, results);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const query = new URLSearchParams();
    for (const name of FILTERS) if (field(form, name)) query.set(name, field(form, name));
    location.hash = `#/dlq${query.size ? `?${query}` : ''}`;
  });

  let gone = false;
  /** @type {DeadLetter[]} */
  let shown = [];
  /** @param {string | null} cursor */
  const load = async (cursor) => {
    /** @type {Record<string, string>} */
    const query = { limit: '50' };
    for (const name of FILTERS) if (value(name)) query[name] = value(name);
    if (cursor) query['cursor'] = cursor;
    try {
      /** @type {DeadLetterPage} */
      const page = await api.get('/dlq', query);
      if (gone) return;
      shown = cursor ? [...shown, ...page.data] : page.data;
      if (shown.length === 0) {
        replace(results, empty('No dead letters', 'Every record was handled. Failed deliveries land here after their last retry.', 'dlq-empty'));
        return;
      }
      replace(results,
        table('Dead letters', ['Dead-lettered', 'Event', 'Reason', 'Where', 'Attempts', 'Redriven', ''], shown.map(row), 'dlq-table'),
        page.next_cursor ? h('button', { type: 'button', onclick: () => load(page.next_cursor) }, 'Load more') : null);
    } catch (error) {
      if (!gone) replace(results, problemBox(error));
    }
  };

  /**
   * @param {DeadLetter} letter
   * @returns {HTMLTableRowElement}
   */
  const row = (letter) => {
    const payload = letter.payload !== undefined && letter.payload !== null
      ? pretty(letter.payload)
      : letter.payload_base64 ? base64Text(letter.payload_base64) ?? letter.payload_base64 : '';
    return h('tr', { testid: 'dlq-row', 'data-id': letter.id },
      h('td', { class: 'nowrap' }, when(letter.dead_lettered_at)),
      h('td', {},
        letter.event_id
          ? h('a', { href: `#/events/${encodeURIComponent(letter.event_id)}`, class: 'type' }, letter.event_type ?? letter.event_id)
          : h('span', { class: 'muted' }, '—'),
        payload ? h('details', {}, h('summary', {}, 'Payload'), h('pre', { class: 'json small' }, payload)) : null),
      h('td', { class: 'error-text' }, letter.reason),
      h('td', { class: 'small' },
        h('div', { class: 'mono' }, letter.topic),
        letter.endpoint ? h('div', {}, 'endpoint ', h('span', { class: 'mono' }, letter.endpoint)) : null,
        h('div', { class: 'muted' }, letter.group)),
      h('td', {}, String(letter.attempts)),
      h('td', { class: 'nowrap' }, letter.redrive_count ? `${letter.redrive_count}× (last ${when(letter.redriven_at)})` : 'no'),
      h('td', {}, h('button', { type: 'button', testid: 'dlq-redrive', onclick: () => redrive(letter) }, 'Redrive')));
  };

  /** @param {DeadLetter} letter */
  const redrive = async (letter) => {
    const where = letter.endpoint ? `to endpoint ${letter.endpoint} only` : `back to ${letter.topic}`;
    const yes = await confirmDialog('Redrive this record?', `It is sent again, ${where}.`, 'Redrive');
    if (!yes) return;
    try {
      await api.call('POST', `/dlq/${encodeURIComponent(letter.id)}/redrive`);
      toast(`Redriven ${where}.`);
    } catch (error) {
      toast(`Could not redrive: ${ApiProblem.from(error).message}`, 'error');
    }
    load(null);
  };

  load(null);
  return () => { gone = true; };
}
