// The live event stream: the gateway's GraphQL subscription `events(types, subject)`, kept
// open while signed in (so the list survives a look at an event's detail), bounded to the
// newest events, filterable, and pausable (new events are held, not lost, while paused).

import { GraphqlSocket, socketUrl } from './graphql-ws.js';
import { h, heading, empty, field, replace } from './dom.js';
import { ago, list, preview, when } from './format.js';

/** Events kept on screen, and held while paused. */
export const LIMIT = 500;

const QUERY = `subscription Live($types: [String!], $subject: String) {
  events(types: $types, subject: $subject) {
    id type source subject time tenant datacontenttype data dataBase64
  }
}`;

/**
 * @typedef {import('./types.js').CloudEvent} CloudEvent
 * @typedef {import('./graphql-ws.js').LinkState} LinkState
 * @typedef {{types: string[], subject: string}} Filter
 * @typedef {{kind: 'event', event: CloudEvent} | {kind: 'state'} | {kind: 'reset'}} Change
 */

export class LiveFeed {
  /** @param {() => string | null} token */
  constructor(token) {
    /** @type {CloudEvent[]} Newest first. */
    this.events = [];
    /** @type {CloudEvent[]} Arrived while paused, newest first. */
    this.held = [];
    this.dropped = 0;
    this.paused = false;
    /** @type {Filter} */
    this.filter = { types: [], subject: '' };
    /** @type {LinkState} */
    this.state = 'closed';
    this.detail = '';
    /** @type {string} The last thing the server said about the stream. */
    this.notice = '';
    /** @type {Set<(change: Change) => void>} */
    this.listeners = new Set();
    /** @type {(() => void) | null} */
    this.unsubscribe = null;
    this.socket = new GraphqlSocket(socketUrl(), token, (state, detail) => {
      this.state = state;
      this.detail = detail;
      this.emit({ kind: 'state' });
    });
  }

  /** Connects and subscribes with the current filter. */
  start() {
    this.socket.open();
    this.resubscribe();
  }

  /** Disconnects and forgets everything (sign-out). */
  stop() {
    this.unsubscribe = null;
    this.socket.close();
    this.events = [];
    this.held = [];
    this.emit({ kind: 'reset' });
  }

  /**
   * Subscribes again with a new filter; the events shown so far stay.
   * @param {Filter} filter
   */
  setFilter(filter) {
    this.filter = filter;
    this.notice = '';
    if (this.state === 'refused' || this.state === 'closed') this.socket.open();
    this.resubscribe();
    this.emit({ kind: 'state' });
  }

  resubscribe() {
    this.unsubscribe?.();
    const variables = {
      types: this.filter.types.length > 0 ? this.filter.types : null,
      subject: this.filter.subject || null,
    };
    this.unsubscribe = this.socket.subscribe(QUERY, variables, {
      next: (data) => {
        const event = fromGraphql(data['events']);
        if (event) this.arrived(event);
      },
      error: (messages) => {
        this.notice = messages.join('; ');
        this.emit({ kind: 'state' });
      },
      complete: () => {
        this.unsubscribe = null;
        this.notice = this.notice
          ? `The stream ended: ${this.notice}`
          : 'The stream ended (the token may have expired). Apply the filter to start it again.';
        this.emit({ kind: 'state' });
      },
    });
  }

  /** @param {CloudEvent} event */
  arrived(event) {
    if (this.paused) {
      this.held.unshift(event);
      if (this.held.length > LIMIT) {
        this.held.length = LIMIT;
        this.dropped += 1;
      }
      this.emit({ kind: 'state' });
      return;
    }
    this.events.unshift(event);
    if (this.events.length > LIMIT) this.events.length = LIMIT;
    this.emit({ kind: 'event', event });
  }

  /** @param {boolean} paused */
  setPaused(paused) {
    this.paused = paused;
    if (!paused && this.held.length > 0) {
      this.events = [...this.held, ...this.events].slice(0, LIMIT);
      this.held = [];
      this.dropped = 0;
      this.emit({ kind: 'reset' });
    }
    this.emit({ kind: 'state' });
  }

  clear() {
    this.events = [];
    this.held = [];
    this.dropped = 0;
    this.emit({ kind: 'reset' });
  }

  /**
   * An event seen live, for the detail view while the store has not caught up.
   * @param {string} id
   * @returns {CloudEvent | undefined}
   */
  find(id) {
    return this.events.find((e) => e.id === id) ?? this.held.find((e) => e.id === id);
  }

  /**
   * @param {(change: Change) => void} listener
   * @returns {() => void} Stops listening.
   */
  listen(listener) {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @param {Change} change */
  emit(change) {
    for (const listener of this.listeners) listener(change);
  }
}

/**
 * A subscription's event (GraphQL names, nulls for absent fields) as the REST API's
 * CloudEvent.
 * @param {unknown} raw
 * @returns {CloudEvent | null}
 */
function fromGraphql(raw) {
  if (!raw || typeof raw !== 'object') return null;
  const { dataBase64, ...fields } = /** @type {Record<string, unknown>} */ (raw);
  /** @type {Record<string, unknown>} */
  const event = { specversion: '1.0' };
  for (const [name, value] of Object.entries(fields)) {
    if (value !== null && value !== undefined) event[name] = value;
  }
  if (typeof dataBase64 === 'string') event['data_base64'] = dataBase64;
  return typeof event['id'] === 'string' ? /** @type {CloudEvent} */ (event) : null;
}

/** @type {Record<LinkState, string>} */
const STATE_TEXT = {
  connecting: 'Connecting…',
  connected: 'Connected',
  retrying: 'Reconnecting',
  refused: 'Refused',
  closed: 'Disconnected',
};

/**
 * The live view.
 * @param {HTMLElement} view
 * @param {import('./types.js').Context} context
 * @returns {() => void} Unmounts it.
 */
export function mountLive(view, { live }) {
  const status = h('span', { class: 'pill', testid: 'live-status', role: 'status' });
  const pause = h('button', { type: 'button', testid: 'live-pause', 'aria-pressed': 'false' });
  const clear = h('button', { type: 'button', class: 'quiet', testid: 'live-clear' }, 'Clear');
  const form = h('form', { class: 'filters live', testid: 'live-filter', role: 'search' },
    h('div', { class: 'field' },
      h('label', { for: 'live-types' }, 'Types'),
      h('input', {
        id: 'live-types', name: 'types', testid: 'live-types', value: live.filter.types.join(', '),
        placeholder: 'razorpay.payment.*, order.created', autocomplete: 'off',
        'aria-describedby': 'live-types-hint',
      })),
    h('div', { class: 'field' },
      h('label', { for: 'live-subject' }, 'Subject'),
      h('input', {
        id: 'live-subject', name: 'subject', testid: 'live-subject', value: live.filter.subject,
        placeholder: 'pay_123', autocomplete: 'off',
      })),
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', testid: 'live-apply' }, 'Apply'),
      pause, clear),
    h('p', { class: 'hint', id: 'live-types-hint' },
      'Types: comma-separated, * matches one segment; empty for every type. Subject: exactly this subject.'));
  const notice = h('div', { class: 'problem', role: 'alert', testid: 'live-notice', hidden: true });
  const summary = h('p', { class: 'muted small', testid: 'live-summary' });
  const stream = h('ol', { class: 'stream', testid: 'live-list', 'aria-label': 'Live events, newest first' });
  const placeholder = empty('Waiting for events…',
    'Events your tenant receives appear here the moment they are published.', 'live-empty');
  replace(view, heading('Live events', status), form, notice, summary, placeholder, stream);

  form.addEventListener('submit', (event) => {
    event.preventDefault();
    live.setFilter({ types: list(field(form, 'types')), subject: field(form, 'subject') });
  });
  pause.addEventListener('click', () => live.setPaused(!live.paused));
  clear.addEventListener('click', () => live.clear());

  const showState = () => {
    status.textContent = live.paused && live.state === 'connected' ? 'Paused' : STATE_TEXT[live.state];
    status.dataset['state'] = live.paused ? 'paused' : live.state;
    status.title = live.detail;
    pause.textContent = live.paused ? `Resume${live.held.length ? ` (${live.held.length} new)` : ''}` : 'Pause';
    pause.setAttribute('aria-pressed', String(live.paused));
    const problem = live.state === 'refused'
      ? `The gateway refused the live stream: ${live.detail}`
      : live.notice || (live.state === 'retrying' ? `Connection lost: ${live.detail}` : '');
    notice.textContent = problem;
    notice.hidden = problem === '';
    const held = live.held.length ? ` · ${live.held.length} held while paused` : '';
    const dropped = live.dropped ? ` (${live.dropped} oldest dropped)` : '';
    summary.textContent = `Showing ${live.events.length} (the last ${LIMIT} are kept)${held}${dropped}`;
    placeholder.hidden = live.events.length > 0;
  };
  const showAll = () => {
    replace(stream, live.events.map(row));
    showState();
  };
  showAll();
  return live.listen((change) => {
    if (change.kind === 'event') {
      stream.prepend(row(change.event));
      while (stream.children.length > LIMIT) stream.lastElementChild?.remove();
      showState();
    } else if (change.kind === 'reset') {
      showAll();
    } else {
      showState();
    }
  });
}

/**
 * One event in the stream: a link to its detail.
 * @param {CloudEvent} event
 * @returns {HTMLLIElement}
 */
function row(event) {
  const data = event.data !== undefined && event.data !== null
    ? preview(event.data)
    : event.data_base64 ? '(binary data)' : '';
  return h('li', { testid: 'live-event', 'data-event-id': event.id, 'data-event-type': event.type },
    h('a', { href: `#/events/${encodeURIComponent(event.id)}`, class: 'stream-row' },
      h('time', { datetime: event.time, title: ago(event.time) }, when(event.time)),
      h('span', { class: 'type' }, event.type),
      h('span', { class: 'subject' }, event.subject ?? ''),
      h('code', { class: 'id' }, event.id),
      h('span', { class: 'data' }, data)));
}
