// A client of the `graphql-transport-ws` protocol (the gateway's `/graphql/ws`): one
// WebSocket carrying subscriptions, the token in `connection_init` (a browser cannot set
// headers on a WebSocket), reconnection with backoff, and subscriptions resumed on
// reconnect.

import { basePath } from './api.js';

/** Waits between reconnects, in ms; the last repeats. */
const BACKOFF_MS = [1000, 2000, 4000, 8000, 15000, 30000];
/** How long the server may take to acknowledge `connection_init`. */
const ACK_TIMEOUT_MS = 10000;

/**
 * - `connecting`: opening, or waiting for the acknowledgement;
 * - `connected`: acknowledged, subscriptions flowing;
 * - `retrying`: lost, trying again after a wait;
 * - `refused`: the server turned the token down (no retry: a new token is needed);
 * - `closed`: closed on purpose.
 * @typedef {'connecting' | 'connected' | 'retrying' | 'refused' | 'closed'} LinkState
 */

/**
 * What a subscription is told.
 * @typedef {object} Sink
 * @property {(data: Record<string, unknown>) => void} next
 * @property {(messages: string[]) => void} error Errors in a result; the stream may go on.
 * @property {() => void} complete The server ended the stream.
 */

/**
 * @typedef {object} Active
 * @property {string} query
 * @property {Record<string, unknown>} variables
 * @property {Sink} sink
 */

/** The `/graphql/ws` address of this page's origin. */
export function socketUrl() {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${basePath()}/graphql/ws`;
}

export class GraphqlSocket {
  /**
   * @param {string} url
   * @param {() => string | null} token
   * @param {(state: LinkState, detail: string) => void} onState
   */
  constructor(url, token, onState) {
    this.url = url;
    this.token = token;
    this.onState = onState;
    /** @type {Map<string, Active>} */
    this.active = new Map();
    /** @type {WebSocket | null} */
    this.socket = null;
    this.acknowledged = false;
    this.failures = 0;
    this.nextId = 1;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.timer = undefined;
    this.stopped = false;
  }

  /** Opens the connection (again). */
  open() {
    this.stopped = false;
    clearTimeout(this.timer);
    this.socket?.close(1000, 'reconnecting');
    this.acknowledged = false;
    this.onState('connecting', '');
    const socket = new WebSocket(this.url, 'graphql-transport-ws');
    this.socket = socket;
    socket.addEventListener('open', () => {
      socket.send(JSON.stringify({ type: 'connection_init', payload: { token: this.token() } }));
      this.timer = setTimeout(() => socket.close(4408, 'no acknowledgement'), ACK_TIMEOUT_MS);
    });
    socket.addEventListener('message', (message) => {
      if (socket === this.socket) this.receive(String(message.data));
    });
    socket.addEventListener('close', (event) => {
      if (socket === this.socket) this.closed(event);
    });
  }

  /**
   * Starts a subscription; sent now if connected, else once acknowledged.
   * @param {string} query
   * @param {Record<string, unknown>} variables
   * @param {Sink} sink
   * @returns {() => void} Ends the subscription.
   */
  subscribe(query, variables, sink) {
    const id = String(this.nextId++);
    this.active.set(id, { query, variables, sink });
    if (this.acknowledged) this.sendSubscribe(id);
    return () => {
      if (this.active.delete(id) && this.acknowledged) {
        this.send({ id, type: 'complete' });
      }
    };
  }

  /** Closes for good (until `open`). */
  close() {
    this.stopped = true;
    clearTimeout(this.timer);
    this.active.clear();
    this.socket?.close(1000, 'closed by the console');
    this.socket = null;
    this.onState('closed', '');
  }

  /** @param {string} text */
  receive(text) {
    /** @type {{type?: string, id?: string, payload?: any}} */
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const active = message.id === undefined ? undefined : this.active.get(message.id);
    switch (message.type) {
      case 'connection_ack':
        clearTimeout(this.timer);
        this.acknowledged = true;
        this.failures = 0;
        this.onState('connected', '');
        for (const id of this.active.keys()) this.sendSubscribe(id);
        break;
      case 'ping':
        this.send({ type: 'pong' });
        break;
      case 'next': {
        const errors = Array.isArray(message.payload?.errors) ? message.payload.errors : [];
        if (errors.length > 0) active?.sink.error(errors.map(errorText));
        if (message.payload?.data) active?.sink.next(message.payload.data);
        break;
      }
      case 'error':
        active?.sink.error(Array.isArray(message.payload)
          ? message.payload.map(errorText)
          : ['the subscription was refused']);
        break;
      case 'complete':
        if (message.id !== undefined && this.active.delete(message.id)) active?.sink.complete();
        break;
      default:
        break;
    }
  }

  /** @param {CloseEvent} event */
  closed(event) {
    clearTimeout(this.timer);
    this.socket = null;
    const wasAcknowledged = this.acknowledged;
    this.acknowledged = false;
    if (this.stopped) return;
    // Closed before the acknowledgement with a reason: the server refused the token
    // (`connection_init` failed, code 1002) or the request (4400, 4401, 4403).
    if (!wasAcknowledged && event.reason && (event.code === 1002 || (event.code >= 4400 && event.code < 4500 && event.code !== 4408))) {
      this.onState('refused', event.reason);
      return;
    }
    const wait = BACKOFF_MS[Math.min(this.failures, BACKOFF_MS.length - 1)] ?? 30000;
    this.failures += 1;
    const why = event.reason || (event.code === 1006 ? 'connection lost' : `closed (${event.code})`);
    this.onState('retrying', `${why}; retrying in ${Math.round(wait / 1000)} s`);
    this.timer = setTimeout(() => this.open(), wait);
  }

  /** @param {string} id */
  sendSubscribe(id) {
    const active = this.active.get(id);
    if (!active) return;
    this.send({ id, type: 'subscribe', payload: { query: active.query, variables: active.variables } });
  }

  /** @param {object} message */
  send(message) {
    if (this.socket?.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(message));
  }
}

/**
 * @param {unknown} error A GraphQL error object.
 * @returns {string}
 */
function errorText(error) {
  if (error && typeof error === 'object' && 'message' in error) return String(error.message);
  return String(error);
}
