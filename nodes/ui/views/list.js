// The executions list: a filter (status, task, created range, error text,
// parent, root, order) kept in the URL hash, keyset pages (`next_cursor`),
// the count matching, and bulk retry and cancel of what the filter
// matches (views/bulk.js).

import { get } from '../api.js';
import { h, note, failure, STATUSES } from '../dom.js';
import { listHash, go } from '../router.js';
import { executionsTable } from './table.js';
import { bulkAction } from './bulk.js';

const PAGE = 50;
/// The filter's keys, as the API names its query parameters.
const KEYS = ['status', 'task_id', 'parent_id', 'root_id', 'created_from_us',
  'created_before_us', 'error', 'idempotency_key', 'sleeping_id', 'order'];

export function filterOf(params) {
  const f = {};
  for (const k of KEYS) {
    const v = params.get(k);
    if (v) f[k] = v;
  }
  return f;
}

/// µs since the epoch <-> the local time of a datetime-local input.
function toLocalInput(us) {
  if (!us) return '';
  const d = new Date(Number(us) / 1000);
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T`
    + `${p(d.getHours())}:${p(d.getMinutes())}`;
}

function fromLocalInput(text) {
  if (!text) return '';
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? '' : String(ms * 1000);
}

function field(label, input) {
  return h('label', { class: 'field' }, h('span', null, label), input);
}

function filterForm(f, taskNames) {
  const chosen = new Set((f.status || '').split(',').filter(Boolean));
  const boxes = STATUSES.map((s) => h('label', { class: 'chip s-' + s },
    h('input', { type: 'checkbox', name: 'status', value: s,
      checked: chosen.has(s) }), s.replaceAll('_', ' ')));
  const text = (name, value, extra = {}) => h('input', { name, id: 'f-' + name,
    value: value || '', autocomplete: 'off', spellcheck: 'false', ...extra });
  const form = h('form', { class: 'filters panel', id: 'filters',
    method: 'post', action: '#', 'aria-label': 'Filter' },
  h('fieldset', { class: 'statuses' }, h('legend', null, 'Status'), boxes),
  h('div', { class: 'fields' },
    field('Task', text('task_id', f.task_id, { list: 'task-names' })),
    h('datalist', { id: 'task-names' }, taskNames.map((t) =>
      h('option', { value: t }))),
    field('Created from', h('input', { type: 'datetime-local',
      name: 'created_from', value: toLocalInput(f.created_from_us) })),
    field('Created before', h('input', { type: 'datetime-local',
      name: 'created_before', value: toLocalInput(f.created_before_us) })),
    field('Error contains', text('error', f.error)),
    field('Parent id', text('parent_id', f.parent_id)),
    field('Root id', text('root_id', f.root_id)),
    field('Order', h('select', { name: 'order', id: 'f-order' },
      h('option', { value: 'newest', selected: f.order !== 'oldest' },
        'Newest first'),
      h('option', { value: 'oldest', selected: f.order === 'oldest' },
        'Oldest first'))),
    h('div', { class: 'form-buttons' },
      h('button', { type: 'submit', class: 'primary', id: 'apply' }, 'Apply'),
      h('a', { href: '#/executions', class: 'button ghost' }, 'Clear'))));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const data = new FormData(form);
    go(listHash({
      status: data.getAll('status').join(','),
      task_id: data.get('task_id').trim(),
      created_from_us: fromLocalInput(data.get('created_from')),
      created_before_us: fromLocalInput(data.get('created_before')),
      error: data.get('error'),
      parent_id: data.get('parent_id').trim(),
      root_id: data.get('root_id').trim(),
      order: data.get('order') === 'oldest' ? 'oldest' : '',
      idempotency_key: f.idempotency_key,
      sleeping_id: f.sleeping_id,
    }));
  });
  return form;
}

export function renderList(main, route) {
  const f = filterOf(route.params);
  const cursor = route.params.get('cursor') || '';
  const controller = new AbortController();
  const opts = { signal: controller.signal };
  const count = h('span', { id: 'match-count', class: 'muted' });
  const results = h('div', { id: 'results', 'aria-live': 'polite' },
    note('Loading…'));
  const formSlot = h('div', null, filterForm(f, []));
  const bulk = (action) => async () => {
    const done = await bulkAction(action, f);
    if (done) go(listHash(f));
  };
  main.replaceChildren(
    h('div', { class: 'title-row' }, h('h1', null, 'Executions'), count,
      h('div', { class: 'actions' },
        h('button', { type: 'button', id: 'bulk-retry', onclick:
          bulk('retry') }, 'Retry matching…'),
        h('button', { type: 'button', id: 'bulk-cancel', class: 'danger',
          onclick: bulk('cancel') }, 'Cancel matching…'))),
    formSlot, results);

  // Task names for the filter's suggestions, when the node lists them.
  get('/v1/tasks', null, opts).then((t) => {
    const names = (t.tasks || []).map((x) => x.task_id);
    document.getElementById('task-names')?.replaceChildren(...names.map((n) =>
      h('option', { value: n })));
  }).catch(() => {});

  const { order, ...filter } = f;
  const query = { ...filter, limit: PAGE, cursor };
  if (order === 'oldest') query.order = 'oldest';
  get('/v1/executions', query, opts).then((page) => {
    const rows = page.executions || [];
    const nav = h('div', { class: 'pager' },
      cursor ? h('a', { href: listHash(f), class: 'button', id: 'first-page' },
        '« First page') : null,
      page.next_cursor ? h('a', { class: 'button', id: 'next-page',
        href: listHash({ ...f, cursor: page.next_cursor }) }, 'Next page »')
        : null);
    results.replaceChildren(rows.length ? executionsTable(rows)
      : note('No execution matches this filter.', 'muted empty'), nav);
  }).catch((e) => {
    if (e.name !== 'AbortError')
      results.replaceChildren(failure(e, 'The list'));
  });

  // The count matching: /v1/stats takes the list's filter; an older node
  // that refuses the text filters counts without them, and says so.
  const { error: _e, idempotency_key: _k, sleeping_id: _s, root_id: _r,
    ...basic } = filter;
  get('/v1/stats', filter, opts).then((s) => {
    count.textContent = `${s.total} matching`;
  }, (e) => {
    if (!e.unavailable) return;
    get('/v1/stats', basic, opts).then((s) => {
      count.textContent = `${s.total} before the text and root filters`;
    }).catch(() => {});
  });

  return () => controller.abort();
}
