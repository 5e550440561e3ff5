// Modal dialogs on the native <dialog> element (focus trapped, Escape closes): forms,
// confirmations, and the one-time display of a generated secret.

import { ApiProblem } from './api.js';
import { h, replace } from './dom.js';

/**
 * A modal dialog with `content`, removed from the page when closed.
 * @param {string} title
 * @param {string} testid
 * @param {(dialog: HTMLDialogElement) => import('./dom.js').Child} content
 * @returns {HTMLDialogElement}
 */
export function openDialog(title, testid, content) {
  const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
  const dialog = h('dialog', { testid, 'aria-labelledby': titleId });
  replace(dialog,
    h('div', { class: 'dialog-head' },
      h('h2', { id: titleId }, title),
      h('button', {
        type: 'button', class: 'icon', 'aria-label': 'Close',
        onclick: () => dialog.close(),
      }, '×')),
    content(dialog));
  dialog.addEventListener('close', () => dialog.remove());
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

/**
 * A form in a dialog: `submit` runs on submission; a problem it throws is shown in the
 * dialog (the form stays filled in), success closes it.
 * @param {string} title
 * @param {string} testid
 * @param {import('./dom.js').Child} fields
 * @param {string} submitLabel
 * @param {(form: HTMLFormElement) => Promise<void>} submit
 * @returns {HTMLDialogElement}
 */
export function formDialog(title, testid, fields, submitLabel, submit) {
  return openDialog(title, testid, (dialog) => {
    const problem = h('div', { class: 'problem', role: 'alert', testid: 'form-error', hidden: true });
    const button = h('button', { type: 'submit', class: 'primary', testid: 'form-submit' }, submitLabel);
    const form = h('form', { class: 'form', novalidate: true },
      problem,
      fields,
      h('div', { class: 'actions end' },
        h('button', { type: 'button', class: 'quiet', onclick: () => dialog.close() }, 'Cancel'),
        button));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      button.disabled = true;
      problem.hidden = true;
      try {
        await submit(form);
        dialog.close();
      } catch (error) {
        showProblem(problem, ApiProblem.from(error));
      } finally {
        button.disabled = false;
      }
    });
    return form;
  });
}

/**
 * Asks before something that cannot be undone.
 * @param {string} title
 * @param {string} text
 * @param {string} confirmLabel
 * @returns {Promise<boolean>}
 */
export function confirmDialog(title, text, confirmLabel) {
  return new Promise((resolve) => {
    let confirmed = false;
    const dialog = openDialog(title, 'confirm', (d) => [
      h('p', {}, text),
      h('div', { class: 'actions end' },
        h('button', { type: 'button', class: 'quiet', onclick: () => d.close() }, 'Cancel'),
        h('button', {
          type: 'button', class: 'danger', testid: 'confirm-yes',
          onclick: () => { confirmed = true; d.close(); },
        }, confirmLabel)),
    ]);
    dialog.addEventListener('close', () => resolve(confirmed));
  });
}

/**
 * Shows a secret the gateway returns this once.
 * @param {string} title
 * @param {string} secret
 * @param {string} note Where it goes (the provider's dashboard, the receiver's config).
 */
export function secretDialog(title, secret, note) {
  openDialog(title, 'secret-once', (dialog) => {
    const input = h('input', {
      id: 'secret-value', readonly: true, value: secret, testid: 'secret-value',
      class: 'mono', spellcheck: 'false', autocomplete: 'off',
    });
    const copied = h('span', { class: 'muted small', role: 'status' });
    return [
      h('p', { class: 'warning' }, 'Copy this secret now: it is shown once and cannot be read again. ', note),
      h('div', { class: 'field' },
        h('label', { for: 'secret-value' }, 'Secret'),
        h('div', { class: 'copy-row' }, input,
          h('button', {
            type: 'button', testid: 'secret-copy',
            onclick: () => copy(input, copied),
          }, 'Copy'))),
      copied,
      h('div', { class: 'actions end' },
        h('button', { type: 'button', class: 'primary', onclick: () => dialog.close() }, 'I have stored it')),
    ];
  });
}

/**
 * Copies an input's value; where the clipboard API is unavailable (a plain-HTTP origin),
 * selects it so the operator can copy it by hand.
 * @param {HTMLInputElement} input
 * @param {HTMLElement} status
 */
async function copy(input, status) {
  try {
    await navigator.clipboard.writeText(input.value);
    status.textContent = 'Copied to the clipboard.';
  } catch {
    input.select();
    status.textContent = 'Selected: press Ctrl+C (⌘C) to copy.';
  }
}

/**
 * Fills an alert box with a problem's title and detail.
 * @param {HTMLElement} box
 * @param {ApiProblem} problem
 */
export function showProblem(box, problem) {
  const status = problem.status ? ` (${problem.status})` : '';
  replace(box,
    h('strong', { testid: 'problem-title' }, `${problem.title}${status}`),
    problem.detail ? h('span', { testid: 'problem-detail' }, ` ${problem.detail}`) : null);
  box.hidden = false;
}

/**
 * A problem box, shown.
 * @param {unknown} error
 * @param {string} [testid]
 * @returns {HTMLDivElement}
 */
export function problemBox(error, testid = 'view-error') {
  const box = h('div', { class: 'problem', role: 'alert', testid });
  showProblem(box, ApiProblem.from(error));
  return box;
}
