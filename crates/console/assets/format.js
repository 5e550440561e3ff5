// How values are shown: times, durations, JSON payloads.

const relative = new Intl.RelativeTimeFormat(undefined, { numeric: 'auto' });
const absolute = new Intl.DateTimeFormat(undefined, {
  year: 'numeric', month: 'short', day: '2-digit',
  hour: '2-digit', minute: '2-digit', second: '2-digit',
});

/**
 * A time as a person reads it: "14:02:11, 25 Nov 2026".
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function when(iso) {
  if (!iso) return '—';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : absolute.format(date);
}

/**
 * How long ago: "3 minutes ago".
 * @param {string | null | undefined} iso
 * @returns {string}
 */
export function ago(iso) {
  if (!iso) return '';
  const seconds = (new Date(iso).getTime() - Date.now()) / 1000;
  if (Number.isNaN(seconds)) return '';
  /** @type {[Intl.RelativeTimeFormatUnit, number][]} */
  const units = [['day', 86400], ['hour', 3600], ['minute', 60], ['second', 1]];
  for (const [unit, size] of units) {
    if (Math.abs(seconds) >= size || unit === 'second') {
      return relative.format(Math.round(seconds / size), unit);
    }
  }
  return '';
}

/**
 * A duration for reading: "120 ms", "1.25 s".
 * @param {number} ms
 * @returns {string}
 */
export function duration(ms) {
  if (ms < 1000) return `${ms} ms`;
  return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
}

/**
 * JSON indented for reading.
 * @param {unknown} value
 * @returns {string}
 */
export function pretty(value) {
  return JSON.stringify(value, null, 2) ?? 'null';
}

/**
 * A one-line preview of a payload, cut at `max` characters.
 * @param {unknown} value
 * @param {number} [max]
 * @returns {string}
 */
export function preview(value, max = 140) {
  if (value === undefined) return '';
  const text = JSON.stringify(value) ?? '';
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/**
 * Base64 data as text when it is readable UTF-8, else null.
 * @param {string} base64
 * @returns {string | null}
 */
export function base64Text(base64) {
  try {
    const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return null;
  }
}

/**
 * A comma- or whitespace-separated list as its items.
 * @param {string} text
 * @returns {string[]}
 */
export function list(text) {
  return text.split(/[\s,]+/).map((s) => s.trim()).filter((s) => s !== '');
}

/**
 * An ISO time as the value of an `<input type="datetime-local">` (local time).
 * @param {string | null} iso
 * @returns {string}
 */
export function toLocalInput(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  const local = new Date(date.getTime() - date.getTimezoneOffset() * 60000);
  return local.toISOString().slice(0, 19);
}

/**
 * A `datetime-local` value as an RFC 3339 time, or null when empty or invalid.
 * @param {string} value
 * @returns {string | null}
 */
export function fromLocalInput(value) {
  if (!value) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? null : date.toISOString();
}
