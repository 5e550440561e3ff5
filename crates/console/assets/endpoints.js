// Endpoints: where events are delivered. List, create (the signing secret is shown once),
// edit (`If-Match` with the version read, so a concurrent change is not overwritten), pause
// and resume, rotate the secret, delete.

import { h, heading, empty, checkbox, checked, field, labelled, replace, table } from './dom.js';
import { list, when } from './format.js';
import { ApiProblem } from './api.js';
import { confirmDialog, formDialog, problemBox, secretDialog } from './dialogs.js';

/**
 * @typedef {import('./types.js').Endpoint} Endpoint
 * @typedef {import('./types.js').EndpointInput} EndpointInput
 * @typedef {import('./types.js').EndpointWithSecret} EndpointWithSecret
 * @typedef {import('./types.js').Context} Context
 */

/**
 * The endpoints view.
 * @param {HTMLElement} view
 * @param {Context} context
 * @returns {() => void}
 */
export function mountEndpoints(view, context) {
  const { api, params, toast } = context;
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  replace(view,
    heading('Endpoints',
      h('button', { type: 'button', class: 'primary', testid: 'endpoint-create', onclick: () => create() }, 'New endpoint')),
    h('p', { class: 'muted' }, 'Subscribers\u2019 URLs. Each gets the events of the types it lists, signed with its own secret (Standard Webhooks).'),
    results);

  let gone = false;
  /** @type {Endpoint[]} */
  let shown = [];
  /** @param {string | null} after */
  const load = async (after) => {
    try {
      /** @type {import('./types.js').Page<Endpoint>} */
      const page = await api.get('/endpoints', { limit: 100, after });
      if (gone) return;
      shown = after ? [...shown, ...page.data] : page.data;
      render(page.next_cursor);
    } catch (error) {
      if (!gone) replace(results, problemBox(error));
    }
  };
  /** @param {string | null} next */
  const render = (next) => {
    if (shown.length === 0) {
      replace(results, empty('No endpoints', 'Create one to have events delivered to a URL of yours.', 'endpoints-empty'));
      return;
    }
    const focus = params.get('focus');
    replace(results,
      table('Endpoints', ['ID', 'URL', 'Event types', 'State', 'Version', 'Updated', 'Actions'],
        shown.map((endpoint) => row(endpoint, endpoint.id === focus)), 'endpoints-table'),
      next ? h('button', { type: 'button', onclick: () => load(next) }, 'Load more') : null);
  };

  /**
   * @param {Endpoint} endpoint
   * @param {boolean} focused
   * @returns {HTMLTableRowElement}
   */
  const row = (endpoint, focused) => h('tr', { testid: 'endpoint-row', 'data-id': endpoint.id, class: focused ? 'focused' : null },
    h('td', { class: 'mono nowrap' }, endpoint.id),
    h('td', { class: 'mono small wrap' }, endpoint.url),
    h('td', {}, endpoint.event_types.length ? endpoint.event_types.map((t) => h('span', { class: 'chip' }, t)) : h('span', { class: 'muted' }, 'every type')),
    h('td', {}, h('span', { class: `badge ${endpoint.paused ? 'paused' : 'active'}` }, endpoint.paused ? 'paused' : 'active')),
    h('td', { class: 'mono' }, String(endpoint.version)),
    h('td', { class: 'nowrap' }, when(endpoint.updated_at)),
    h('td', { class: 'row-actions' },
      h('button', { type: 'button', class: 'quiet', testid: 'endpoint-edit', onclick: () => edit(endpoint.id) }, 'Edit'),
      h('button', { type: 'button', class: 'quiet', testid: 'endpoint-pause', onclick: () => setPaused(endpoint, !endpoint.paused) }, endpoint.paused ? 'Resume' : 'Pause'),
      h('button', { type: 'button', class: 'quiet', testid: 'endpoint-rotate', onclick: () => rotate(endpoint) }, 'Rotate secret'),
      h('button', { type: 'button', class: 'quiet danger-text', testid: 'endpoint-delete', onclick: () => remove(endpoint) }, 'Delete')));

  /**
   * The form's fields, filled from `endpoint` when editing.
   * @param {Endpoint | null} endpoint
   */
  const fields = (endpoint) => [
    endpoint ? null : labelled('ID', { id: 'endpoint-id', name: 'id', required: true, testid: 'endpoint-id', autocomplete: 'off', pattern: '[A-Za-z0-9_.-]+' }, 'Letters, digits, - _ and . ; unique in your tenant.'),
    labelled('URL', { id: 'endpoint-url', name: 'url', type: 'url', required: true, testid: 'endpoint-url', value: endpoint?.url ?? '', placeholder: 'https://example.com/hooks' }),
    labelled('Event types', { id: 'endpoint-types', name: 'event_types', testid: 'endpoint-types', value: endpoint?.event_types.join(', ') ?? '', placeholder: 'razorpay.payment.*, order.created', autocomplete: 'off' }, 'Comma-separated; * matches one segment. Empty: every type.'),
    checkbox('Paused (receives nothing until resumed)', { id: 'endpoint-paused', name: 'paused', checked: endpoint?.paused ?? false }),
  ];
  /**
   * @param {HTMLFormElement} form
   * @returns {EndpointInput}
   */
  const input = (form) => {
    const types = list(field(form, 'event_types'));
    /** @type {EndpointInput} */
    const body = { url: field(form, 'url'), paused: checked(form, 'paused') };
    // Left out, the endpoint gets every type (an empty list is refused).
    if (types.length > 0) body.event_types = types;
    return body;
  };

  const create = () => formDialog('New endpoint', 'endpoint-form', fields(null), 'Create', async (form) => {
    /** @type {import('./api.js').Reply<EndpointWithSecret>} */
    const reply = await api.call('POST', '/endpoints', { body: { id: field(form, 'id'), ...input(form) } });
    toast(`Endpoint ${reply.body.endpoint.id} created.`);
    secretDialog('Endpoint signing secret', reply.body.secret, 'Configure your receiver to verify signatures with it.');
    load(null);
  });

  /** @param {string} id */
  const edit = async (id) => {
    try {
      // Read fresh: the version to send back is the one the form shows.
      /** @type {import('./api.js').Reply<Endpoint>} */
      const current = await api.call('GET', `/endpoints/${encodeURIComponent(id)}`);
      const version = current.version ?? current.body.version;
      formDialog(`Edit endpoint ${id}`, 'endpoint-form', fields(current.body), 'Save', async (form) => {
        await api.call('PUT', `/endpoints/${encodeURIComponent(id)}`, { body: input(form), version });
        toast(`Endpoint ${id} saved.`);
        load(null);
      });
    } catch (error) {
      toast(`Could not open ${id}: ${ApiProblem.from(error).message}`, 'error');
    }
  };

  /**
   * @param {Endpoint} endpoint
   * @param {boolean} paused
   */
  const setPaused = async (endpoint, paused) => {
    try {
      const body = { url: endpoint.url, event_types: endpoint.event_types, paused };
      await api.call('PUT', `/endpoints/${encodeURIComponent(endpoint.id)}`, { body, version: endpoint.version });
      toast(`Endpoint ${endpoint.id} ${paused ? 'paused' : 'resumed'}.`);
    } catch (error) {
      toast(`Could not ${paused ? 'pause' : 'resume'} ${endpoint.id}: ${ApiProblem.from(error).message}`, 'error');
    }
    load(null);
  };

  /** @param {Endpoint} endpoint */
  const rotate = async (endpoint) => {
    const yes = await confirmDialog(`Rotate the secret of ${endpoint.id}?`,
      'A new signing secret is made and shown once. Deliveries carry a signature with the old one too for a while, so the receiver can switch over.',
      'Rotate');
    if (!yes) return;
    try {
      /** @type {import('./api.js').Reply<EndpointWithSecret>} */
      const reply = await api.call('POST', `/endpoints/${encodeURIComponent(endpoint.id)}/rotate-secret`);
      secretDialog('New endpoint signing secret', reply.body.secret, 'Give it to the receiver before the old one stops signing.');
      load(null);
    } catch (error) {
      toast(`Could not rotate: ${ApiProblem.from(error).message}`, 'error');
    }
  };

  /** @param {Endpoint} endpoint */
  const remove = async (endpoint) => {
    const yes = await confirmDialog(`Delete endpoint ${endpoint.id}?`,
      'It receives nothing more; its pending deliveries end as skipped. This cannot be undone.', 'Delete');
    if (!yes) return;
    try {
      await api.call('DELETE', `/endpoints/${encodeURIComponent(endpoint.id)}`);
      toast(`Endpoint ${endpoint.id} deleted.`);
    } catch (error) {
      toast(`Could not delete: ${ApiProblem.from(error).message}`, 'error');
    }
    load(null);
  };

  load(null);
  return () => { gone = true; };
}
