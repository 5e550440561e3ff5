// Building and updating elements without a framework: `h()` makes an element from a tag,
// attributes and children; text is always set as text, never parsed as HTML.

/**
 * A child of an element: nodes, text, or lists of them; null, undefined and false are
 * skipped. (Nested lists are typed loosely: JSDoc type aliases cannot refer to themselves.)
 * @typedef {Node | string | number | null | undefined | false | readonly unknown[]} Child
 */

/**
 * Attributes: `testid` becomes `data-testid`, `on<event>` a listener, `true` a bare
 * attribute; null, undefined and false are left out.
 * @typedef {Record<string, string | number | boolean | null | undefined | ((event: Event) => void)>} Attrs
 */

/**
 * Makes an element.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') {
      element.addEventListener(name.slice(2), value);
    } else if (name === 'testid') {
      element.dataset['testid'] = String(value);
    } else if (value === true) {
      element.setAttribute(name, '');
    } else {
      element.setAttribute(name, String(value));
    }
  }
  append(element, children);
  return element;
}

/**
 * Appends children to a node.
 * @param {Node} parent
 * @param {readonly unknown[]} children
 */
export function append(parent, children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    if (Array.isArray(child)) {
      append(parent, child);
    } else if (child instanceof Node) {
      parent.appendChild(child);
    } else {
      parent.appendChild(document.createTextNode(String(child)));
    }
  }
}

/**
 * Replaces a node's children.
 * @param {Element} parent
 * @param {...Child} children
 */
export function replace(parent, ...children) {
  parent.replaceChildren();
  append(parent, children);
}

/**
 * The first element matching `selector` in `root`, of the given class; throws when the page
 * is not what this code was written for.
 * @template {Element} T
 * @param {ParentNode} root
 * @param {string} selector
 * @param {new (...args: any[]) => T} type
 * @returns {T}
 */
export function find(root, selector, type) {
  const element = root.querySelector(selector);
  if (!(element instanceof type)) {
    throw new Error(`console page: ${selector} is missing`);
  }
  return element;
}

/**
 * A form's named text value, trimmed.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {string}
 */
export function field(form, name) {
  const value = new FormData(form).get(name);
  return typeof value === 'string' ? value.trim() : '';
}

/**
 * Whether a form's named checkbox is checked.
 * @param {HTMLFormElement} form
 * @param {string} name
 * @returns {boolean}
 */
export function checked(form, name) {
  return new FormData(form).get(name) !== null;
}

/**
 * A labelled input in a form grid.
 * @param {string} label
 * @param {Attrs} attrs The input's attributes (`name` and `id` are required).
 * @param {string} [hint] Help text below, tied to the input by `aria-describedby`.
 * @returns {HTMLDivElement}
 */
export function labelled(label, attrs, hint) {
  const id = String(attrs['id']);
  const hintId = hint ? `${id}-hint` : null;
  const input = attrs['type'] === 'select'
    ? h('select', { ...attrs, type: null, 'aria-describedby': hintId })
    : h('input', { type: 'text', ...attrs, 'aria-describedby': hintId });
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    input,
    hint ? h('p', { class: 'hint', id: hintId }, hint) : null);
}

/**
 * A checkbox with its label.
 * @param {string} label
 * @param {Attrs} attrs
 * @returns {HTMLDivElement}
 */
export function checkbox(label, attrs) {
  const id = String(attrs['id']);
  return h('div', { class: 'field check' },
    h('input', { type: 'checkbox', ...attrs }),
    h('label', { for: id }, label));
}

/**
 * A view's heading, focusable so route changes can move focus to it.
 * @param {string} title
 * @param {...Child} extra Shown beside the title (status, actions).
 * @returns {HTMLElement}
 */
export function heading(title, ...extra) {
  return h('div', { class: 'view-head' },
    h('h1', { tabindex: -1 }, title),
    h('div', { class: 'view-head-extra' }, ...extra));
}

/**
 * An empty state: what is missing and what to do about it.
 * @param {string} title
 * @param {string} text
 * @param {string} testid
 * @returns {HTMLElement}
 */
export function empty(title, text, testid) {
  return h('div', { class: 'empty', testid },
    h('p', { class: 'empty-title' }, title),
    h('p', { class: 'muted' }, text));
}

/**
 * A table that scrolls sideways on narrow screens rather than breaking the layout.
 * @param {string} caption For screen readers.
 * @param {string[]} columns
 * @param {HTMLTableRowElement[]} rows
 * @param {string} testid
 * @returns {HTMLElement}
 */
export function table(caption, columns, rows, testid) {
  return h('div', { class: 'table-wrap' },
    h('table', { testid },
      h('caption', { class: 'visually-hidden' }, caption),
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, rows)));
}
