// Sources: where webhooks come in (ingest's `/webhooks/<tenant>/<id>`). List, create (a
// generated secret is shown once), edit with `If-Match`, pause and resume, rotate the
// secret (given by the provider, or generated), delete.

import { h, heading, empty, checkbox, checked, field, labelled, replace, table } from './dom.js';
import { list, when } from './format.js';
import { ApiProblem } from './api.js';
import { confirmDialog, formDialog, problemBox, secretDialog } from './dialogs.js';

/**
 * @typedef {import('./types.js').Source} Source
 * @typedef {import('./types.js').SourceInput} SourceInput
 * @typedef {import('./types.js').SourceWithSecret} SourceWithSecret
 */

const PROVIDERS = ['razorpay', 'stripe', 'github', 'shopify', 'standard-webhooks', 'hmac'];

/**
 * The sources view.
 * @param {HTMLElement} view
 * @param {import('./types.js').Context} context
 * @returns {() => void}
 */
export function mountSources(view, { api, toast }) {
  const results = h('div', { class: 'results', 'aria-live': 'polite' });
  replace(view,
    heading('Sources',
      h('button', { type: 'button', class: 'primary', testid: 'source-create', onclick: () => create() }, 'New source')),
    h('p', { class: 'muted' }, 'Webhook senders. Each verifies its provider\u2019s signature with its own secret before anything is accepted.'),
    results);

  let gone = false;
  /** @type {Source[]} */
  let shown = [];
  /** @param {string | null} after */
  const load = async (after) => {
    try {
      /** @type {import('./types.js').Page<Source>} */
      const page = await api.get('/sources', { limit: 100, after });
      if (gone) return;
      shown = after ? [...shown, ...page.data] : page.data;
      if (shown.length === 0) {
        replace(results, empty('No sources', 'Create one, then point your provider\u2019s webhook settings at its URL.', 'sources-empty'));
        return;
      }
      replace(results,
        table('Sources', ['ID', 'Provider', 'Webhook URL', 'State', 'Secrets', 'Version', 'Updated', 'Actions'], shown.map(row), 'sources-table'),
        page.next_cursor ? h('button', { type: 'button', onclick: () => load(page.next_cursor) }, 'Load more') : null);
    } catch (error) {
      if (!gone) replace(results, problemBox(error));
    }
  };

  /**
   * @param {Source} source
   * @returns {HTMLTableRowElement}
   */
  const row = (source) => h('tr', { testid: 'source-row', 'data-id': source.id },
    h('td', { class: 'mono nowrap' }, source.id),
    h('td', {}, source.provider),
    h('td', { class: 'mono small wrap' }, source.webhook_path),
    h('td', {}, h('span', { class: `badge ${source.paused ? 'paused' : 'active'}` }, source.paused ? 'paused' : 'active')),
    h('td', {}, String(source.secrets)),
    h('td', { class: 'mono' }, String(source.version)),
    h('td', { class: 'nowrap' }, when(source.updated_at)),
    h('td', { class: 'row-actions' },
      h('button', { type: 'button', class: 'quiet', testid: 'source-edit', onclick: () => edit(source.id) }, 'Edit'),
      h('button', { type: 'button', class: 'quiet', testid: 'source-pause', onclick: () => setPaused(source, !source.paused) }, source.paused ? 'Resume' : 'Pause'),
      h('button', { type: 'button', class: 'quiet', testid: 'source-rotate', onclick: () => rotate(source) }, 'Rotate secret'),
      h('button', { type: 'button', class: 'quiet danger-text', testid: 'source-delete', onclick: () => remove(source) }, 'Delete')));

  /**
   * The form's fields, filled from `source` when editing.
   * @param {Source | null} source
   */
  const fields = (source) => {
    const settings = source?.settings ?? {};
    const hmac = /** @type {Record<string, string>} */ (settings.hmac ?? {});
    const hmacFields = h('fieldset', { class: 'subfields', hidden: source?.provider !== 'hmac' },
      h('legend', {}, 'Generic HMAC'),
      labelled('Signature header', { id: 'source-hmac-header', name: 'hmac_header', value: hmac['header'] ?? '', placeholder: 'X-Signature' }),
      h('div', { class: 'field' },
        h('label', { for: 'source-hmac-encoding' }, 'Encoding'),
        h('select', { id: 'source-hmac-encoding', name: 'hmac_encoding' },
          ['hex', 'base64'].map((e) => h('option', { value: e, selected: hmac['encoding'] === e }, e)))),
      labelled('Prefix', { id: 'source-hmac-prefix', name: 'hmac_prefix', value: hmac['prefix'] ?? '', placeholder: 'sha256=' }),
      labelled('Delivery id header', { id: 'source-hmac-id', name: 'hmac_id_header', value: hmac['id_header'] ?? '' }));
    const provider = h('select', {
      id: 'source-provider', name: 'provider', testid: 'source-provider', required: true,
      onchange: (e) => { hmacFields.hidden = /** @type {HTMLSelectElement} */ (e.currentTarget).value !== 'hmac'; },
    }, PROVIDERS.map((p) => h('option', { value: p, selected: source?.provider === p }, p)));
    return [
      source ? null : labelled('ID', { id: 'source-id', name: 'id', required: true, testid: 'source-id', autocomplete: 'off' }, 'Webhooks are posted to /webhooks/<tenant>/<id>.'),
      h('div', { class: 'field' }, h('label', { for: 'source-provider' }, 'Provider'), provider),
      labelled(source ? 'New secret' : 'Secret', { id: 'source-secret', name: 'secret', type: 'password', testid: 'source-secret', autocomplete: 'off' },
        source ? 'Empty keeps the current secrets.' : 'The secret your provider issued, if it issues one; empty generates one (shown once).'),
      labelled('Allowed networks', { id: 'source-ips', name: 'allow_ips', value: settings.allow_ips?.join(', ') ?? '', placeholder: '0.0.0.0/0, ::/0' }, 'CIDR, comma-separated. Empty: everyone.'),
      labelled('Rate limit (per second)', { id: 'source-rate', name: 'rate_limit_per_sec', type: 'number', min: 1, value: settings.rate_limit_per_sec ?? '' }),
      labelled('Largest body (bytes)', { id: 'source-max-body', name: 'max_body_bytes', type: 'number', min: 1, value: settings.max_body_bytes ?? '' }),
      hmacFields,
      checkbox('Strict: dead-letter event types without a registered schema', { id: 'source-strict', name: 'strict', checked: settings.strict ?? false }),
      checkbox('Paused (webhooks are told to retry later)', { id: 'source-paused', name: 'paused', checked: source?.paused ?? false }),
    ];
  };
  /**
   * @param {HTMLFormElement} form
   * @param {Source | null} source Its transform is kept (not editable here).
   * @returns {SourceInput}
   */
  const input = (form, source) => {
    /** @type {SourceInput} */
    const body = { provider: field(form, 'provider'), strict: checked(form, 'strict'), paused: checked(form, 'paused') };
    const secret = field(form, 'secret');
    if (secret) body.secret = secret;
    const ips = list(field(form, 'allow_ips'));
    if (ips.length) body.allow_ips = ips;
    const rate = field(form, 'rate_limit_per_sec');
    if (rate) body.rate_limit_per_sec = Number(rate);
    const max = field(form, 'max_body_bytes');
    if (max) body.max_body_bytes = Number(max);
    if (body.provider === 'hmac') {
      body.hmac = {
        header: field(form, 'hmac_header'), encoding: field(form, 'hmac_encoding'),
        prefix: field(form, 'hmac_prefix'), id_header: field(form, 'hmac_id_header'),
      };
    }
    if (source?.settings.transform) body.transform = source.settings.transform;
    return body;
  };

  const create = () => formDialog('New source', 'source-form', fields(null), 'Create', async (form) => {
    /** @type {import('./api.js').Reply<SourceWithSecret>} */
    const reply = await api.call('POST', '/sources', { body: { id: field(form, 'id'), ...input(form, null) } });
    toast(`Source ${reply.body.source.id} created: ${reply.body.source.webhook_path}`);
    if (reply.body.secret) secretDialog('Source secret', reply.body.secret, 'Enter it in your provider\u2019s webhook settings.');
    load(null);
  });

  /** @param {string} id */
  const edit = async (id) => {
    try {
      /** @type {import('./api.js').Reply<Source>} */
      const current = await api.call('GET', `/sources/${encodeURIComponent(id)}`);
      const version = current.version ?? current.body.version;
      formDialog(`Edit source ${id}`, 'source-form', fields(current.body), 'Save', async (form) => {
        await api.call('PUT', `/sources/${encodeURIComponent(id)}`, { body: input(form, current.body), version });
        toast(`Source ${id} saved.`);
        load(null);
      });
    } catch (error) {
      toast(`Could not open ${id}: ${ApiProblem.from(error).message}`, 'error');
    }
  };

  /**
   * @param {Source} source
   * @param {boolean} paused
   */
  const setPaused = async (source, paused) => {
    try {
      /** @type {SourceInput} */
      const body = { ...source.settings, provider: source.provider, paused };
      await api.call('PUT', `/sources/${encodeURIComponent(source.id)}`, { body, version: source.version });
      toast(`Source ${source.id} ${paused ? 'paused' : 'resumed'}.`);
    } catch (error) {
      toast(`Could not ${paused ? 'pause' : 'resume'} ${source.id}: ${ApiProblem.from(error).message}`, 'error');
    }
    load(null);
  };

  /** @param {Source} source */
  const rotate = (source) => formDialog(`Rotate the secret of ${source.id}`, 'source-rotate-form', [
    h('p', {}, 'The previous secret keeps verifying until the next rotation, so the provider can switch over.'),
    labelled('Secret issued by the provider', { id: 'rotate-secret', name: 'secret', type: 'password', autocomplete: 'off' }, 'Empty generates one (shown once).'),
  ], 'Rotate', async (form) => {
    const secret = field(form, 'secret');
    /** @type {import('./api.js').Reply<SourceWithSecret>} */
    const reply = await api.call('POST', `/sources/${encodeURIComponent(source.id)}/rotate-secret`, { body: secret ? { secret } : {} });
    toast(`Secret of ${source.id} rotated.`);
    if (reply.body.secret) secretDialog('New source secret', reply.body.secret, 'Enter it in your provider\u2019s webhook settings.');
    load(null);
  });

  /** @param {Source} source */
  const remove = async (source) => {
    const yes = await confirmDialog(`Delete source ${source.id}?`,
      `Ingest answers 404 to ${source.webhook_path} within seconds. This cannot be undone.`, 'Delete');
    if (!yes) return;
    try {
      await api.call('DELETE', `/sources/${encodeURIComponent(source.id)}`);
      toast(`Source ${source.id} deleted.`);
    } catch (error) {
      toast(`Could not delete: ${ApiProblem.from(error).message}`, 'error');
    }
    load(null);
  };

  load(null);
  return () => { gone = true; };
}
