// A modal dialog on the page's <dialog>: focus moves into it and back, Esc
// closes it. confirmAction() shows what a call would do and asks before
// doing it.

import { h } from '../dom.js';

const dialog = () => document.getElementById('dialog');

/// Shows `content` (nodes) with buttons; resolves to the value of the
/// button pressed, or null when dismissed.
export function showDialog(title, content, buttons) {
  const d = dialog();
  const opener = document.activeElement;
  return new Promise((resolve) => {
    // Esc fires `cancel` at once; a `close` event would come a task later,
    // when the next dialog may already be open.
    const finish = (value) => {
      d.removeEventListener('cancel', onCancel);
      if (d.open) d.close();
      if (opener && document.contains(opener)) opener.focus();
      resolve(value);
    };
    const onCancel = (ev) => {
      ev.preventDefault();
      finish(null);
    };
    const row = h('div', { class: 'dialog-buttons' }, buttons.map((b) =>
      h('button', { type: 'button', class: b.class || '',
        id: b.id, onclick: () => finish(b.value) }, b.label)));
    d.replaceChildren(h('h2', { id: 'dialog-title' }, title),
      h('div', { class: 'dialog-body', id: 'dialog-body' }, content), row);
    d.setAttribute('aria-labelledby', 'dialog-title');
    d.addEventListener('cancel', onCancel);
    d.showModal();
    const first = row.querySelector('button:not(.primary):not(.danger)')
      || row.querySelector('button');
    first.focus();
  });
}

/// Updates the open dialog's body (a call's result after confirming).
export function setDialogBody(...content) {
  const body = document.getElementById('dialog-body');
  if (body) body.replaceChildren(...content);
}
