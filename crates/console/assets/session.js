// The operator's bearer token: taken from the link that opened the console
// (`#token=<JWT>`, then removed from the address bar and history) or from the sign-in form,
// and kept in this tab's sessionStorage only.

const KEY = 'switchyard.console.token';

/**
 * What the console shows about a token. The gateway verifies it; this only reads it.
 * @typedef {object} Claims
 * @property {string} tenant
 * @property {string[]} scopes
 * @property {number | null} expires Seconds since the epoch.
 */

/**
 * The token in this page's fragment, if any, removed from the address bar at once.
 * @returns {string | null}
 */
export function takeFromFragment() {
  const fragment = location.hash.replace(/^#\/?/, '');
  const params = new URLSearchParams(fragment.includes('?') ? fragment.split('?')[1] : fragment);
  const token = params.get('token');
  if (!token) return null;
  history.replaceState(null, '', `${location.pathname}${location.search}#/live`);
  return normalize(token);
}

/**
 * A pasted token without a `Bearer ` prefix or surrounding space.
 * @param {string} text
 * @returns {string}
 */
export function normalize(text) {
  return text.trim().replace(/^bearer\s+/i, '');
}

/** @returns {string | null} */
export function stored() {
  try {
    return sessionStorage.getItem(KEY);
  } catch {
    return null;
  }
}

/** @param {string} token */
export function keep(token) {
  try {
    sessionStorage.setItem(KEY, token);
  } catch {
    // Storage disabled: the token lives as long as the page.
  }
}

export function forget() {
  try {
    sessionStorage.removeItem(KEY);
  } catch {
    // Nothing was stored.
  }
}

/**
 * The claims the console shows, or null when the token is not a readable JWT.
 * @param {string} token
 * @returns {Claims | null}
 */
export function claims(token) {
  const payload = token.split('.')[1];
  if (!payload) return null;
  try {
    const json = atob(payload.replaceAll('-', '+').replaceAll('_', '/'));
    const bytes = Uint8Array.from(json, (c) => c.charCodeAt(0));
    /** @type {Record<string, unknown>} */
    const doc = JSON.parse(new TextDecoder().decode(bytes));
    return {
      tenant: typeof doc['tenant'] === 'string' ? doc['tenant'] : '?',
      scopes: typeof doc['scope'] === 'string' ? doc['scope'].split(' ').filter(Boolean) : [],
      expires: typeof doc['exp'] === 'number' ? doc['exp'] : null,
    };
  } catch {
    return null;
  }
}
