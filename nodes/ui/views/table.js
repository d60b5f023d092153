// The executions table of the list and the search: one row per execution,
// its status at a glance (colour and text). Rows are keyboard stops:
// Enter opens one, arrow keys move between them.

import { h, badge, executionHref, time, formatDuration } from '../dom.js';

function duration(e) {
  const start = e.started_at_us || e.created_at_us;
  const end = e.finished_at_us || 0;
  if (!start || !end) return '';
  return formatDuration(end - start);
}

function errorText(e) {
  return e.error && e.error.message ? String(e.error.message) : '';
}

export function executionsTable(rows, id = 'executions-table') {
  const body = h('tbody', null, rows.map((e) => {
    const href = executionHref(e.execution_id);
    const open = () => { location.hash = href; };
    return h('tr', { class: 'row', tabindex: 0, dataset: { id:
      e.execution_id }, onkeydown: (ev) => {
      if (ev.target !== ev.currentTarget) return;
      if (ev.key === 'Enter') open();
      else if (ev.key === 'ArrowDown' || ev.key === 'ArrowUp') {
        ev.preventDefault();
        const next = ev.key === 'ArrowDown'
          ? ev.currentTarget.nextElementSibling
          : ev.currentTarget.previousElementSibling;
        if (next) next.focus();
      }
    }, onclick: (ev) => {
      if (!(ev.target instanceof HTMLAnchorElement)) open();
    } },
    h('td', null, badge(e.status)),
    h('td', null, h('a', { href, class: 'mono', tabindex: -1 },
      String(e.execution_id))),
    h('td', { class: 'mono' }, String(e.task_id ?? '')),
    h('td', null, String(e.kind ?? '')),
    h('td', { class: 'num' }, String(e.attempt ?? '')),
    h('td', null, time(e.created_at_us)),
    h('td', { class: 'num' }, duration(e)),
    h('td', { class: 'error-cell', title: errorText(e) }, errorText(e)));
  }));
  return h('table', { class: 'table executions', id },
    h('thead', null, h('tr', null, ['Status', 'Execution', 'Task', 'Kind',
      'Attempt', 'Created', 'Took', 'Error'].map((c) =>
      h('th', { scope: 'col' }, c)))), body);
}
