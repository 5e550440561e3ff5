// The gateway's REST API on this page's own origin, with the operator's bearer token. Every
// refusal becomes an `ApiProblem` carrying the problem+json `title` and `detail`.

/** How long a request may take before the console gives up on it. */
const TIMEOUT_MS = 15000;

/**
 * The path the gateway is mounted at: the part of this page's path before `/console/`, so
 * a reverse proxy's prefix is kept.
 * @returns {string}
 */
export function basePath() {
  const at = location.pathname.lastIndexOf('/console');
  return at > 0 ? location.pathname.slice(0, at) : '';
}

/** A refusal or failure, as the API's problem document describes it. */
export class ApiProblem extends Error {
  /**
   * @param {number} status The HTTP status; 0 when no answer came.
   * @param {string} title
   * @param {string} detail
   * @param {string} [type] The problem `type` (`urn:switchyard:problem:...`).
   */
  constructor(status, title, detail, type = '') {
    super(detail ? `${title}: ${detail}` : title);
    this.name = 'ApiProblem';
    this.status = status;
    this.title = title;
    this.detail = detail;
    this.type = type;
  }

  /**
   * Any thrown value as a problem.
   * @param {unknown} error
   * @returns {ApiProblem}
   */
  static from(error) {
    if (error instanceof ApiProblem) return error;
    const message = error instanceof Error ? error.message : String(error);
    return new ApiProblem(0, 'Something went wrong', message);
  }
}

/**
 * @typedef {object} RequestOptions
 * @property {Record<string, string | number | boolean | null | undefined>} [query]
 * @property {unknown} [body] Sent as JSON.
 * @property {number} [version] Sent as `If-Match`, so a change applies to this version only.
 */

/**
 * An answer: its body and, for versioned resources, the `ETag` version.
 * @template T
 * @typedef {object} Reply
 * @property {number} status
 * @property {T} body
 * @property {number | null} version
 */

export class Api {
  /**
   * @param {() => string | null} token The current bearer token.
   * @param {(problem: ApiProblem) => void} onUnauthorized Told of every 401.
   */
  constructor(token, onUnauthorized) {
    this.token = token;
    this.onUnauthorized = onUnauthorized;
  }

  /**
   * Calls the API.
   * @template T
   * @param {string} method
   * @param {string} path Under `/v1`, e.g. `/events`.
   * @param {RequestOptions} [options]
   * @returns {Promise<Reply<T>>}
   */
  async call(method, path, options = {}) {
    const url = new URL(`${basePath()}/v1${path}`, location.origin);
    for (const [key, value] of Object.entries(options.query ?? {})) {
      if (value !== null && value !== undefined && value !== '') {
        url.searchParams.set(key, String(value));
      }
    }
    /** @type {Record<string, string>} */
    const headers = { accept: 'application/json, application/problem+json' };
    const token = this.token();
    if (token) headers['authorization'] = `Bearer ${token}`;
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.version !== undefined) headers['if-match'] = `"${options.version}"`;
    let response;
    try {
      response = await fetch(url, {
        method,
        headers,
        body: options.body === undefined ? null : JSON.stringify(options.body),
        credentials: 'omit',
        cache: 'no-store',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      const timedOut = error instanceof DOMException && error.name === 'TimeoutError';
      throw new ApiProblem(0, 'The gateway could not be reached', timedOut
        ? `no answer within ${TIMEOUT_MS / 1000} s`
        : 'check your connection and that the gateway is running');
    }
    const text = await response.text();
    /** @type {unknown} */
    let body = null;
    if (text) {
      try {
        body = JSON.parse(text);
      } catch {
        body = text;
      }
    }
    if (!response.ok) {
      const problem = toProblem(response, body);
      if (response.status === 401) this.onUnauthorized(problem);
      throw problem;
    }
    const etag = response.headers.get('etag');
    const version = etag ? Number(etag.replace(/^W\//, '').replaceAll('"', '')) : NaN;
    return {
      status: response.status,
      body: /** @type {T} */ (body),
      version: Number.isFinite(version) ? version : null,
    };
  }

  /**
   * `GET`, the body only.
   * @template T
   * @param {string} path
   * @param {RequestOptions['query']} [query]
   * @returns {Promise<T>}
   */
  async get(path, query) {
    /** @type {Reply<T>} */
    const reply = await this.call('GET', path, { query });
    return reply.body;
  }
}

/**
 * The problem an error answer describes, or one made from its status.
 * @param {Response} response
 * @param {unknown} body
 * @returns {ApiProblem}
 */
function toProblem(response, body) {
  if (body && typeof body === 'object') {
    const doc = /** @type {Record<string, unknown>} */ (body);
    const title = typeof doc['title'] === 'string' ? doc['title'] : response.statusText;
    const detail = typeof doc['detail'] === 'string' ? doc['detail'] : '';
    const type = typeof doc['type'] === 'string' ? doc['type'] : '';
    return new ApiProblem(response.status, title || `HTTP ${response.status}`, detail, type);
  }
  const detail = typeof body === 'string' ? body.slice(0, 300) : '';
  return new ApiProblem(response.status, response.statusText || `HTTP ${response.status}`, detail);
}
