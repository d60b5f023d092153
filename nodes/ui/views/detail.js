// One execution: every stored field, its payloads pretty-printed, its
// timings as a timeline, its tree (views/tree.js), and what can be done to
// it: cancel (then the tree read again, to show the cascade), retry, and
// wake a sleeping execution with an output or an error. While it is not
// finished it is read again every 2 s.

import { get, post, executionPath } from '../api.js';
import { h, badge, note, failure, time, formatDuration, jsonBlock, poll,
  executionLink, FINISHED, ERRORED } from '../dom.js';
import { listHash } from '../router.js';
import { showDialog } from './dialog.js';
import { treeView } from './tree.js';

const SHOWN_ELSEWHERE = new Set(['input', 'output', 'run_output', 'error',
  'children', 'children_summary', 'execution_id', 'task_id', 'status']);

const FIELD_ORDER = ['kind', 'attempt', 'recoveries', 'version', 'parent',
  'root', 'sleeping_id', 'idempotency_key', 'traceparent', 'retry',
  'timeout_ms', 'sleep_before_run_ms', 'created_at_us', 'start_at_us',
  'started_at_us', 'updated_at_us', 'expires_at_us', 'finished_at_us',
  'closed_at_us'];

function value(key, v) {
  if (v === undefined || v === null) return h('span', { class: 'muted' }, '—');
  if (key.endsWith('_us') && typeof v === 'number') return time(v);
  if (key.endsWith('_ms') && typeof v === 'number')
    return v ? `${formatDuration(v * 1000)} (${v} ms)` : '0';
  if (key === 'parent' && typeof v === 'object')
    return h('span', null, executionLink(String(v.execution_id)),
      ` (${v.task_id}), ${v.is_finalize ? 'its finalize'
        : `child #${Number(v.index ?? 0) + 1}`}`);
  if (key === 'root' && typeof v === 'object')
    return h('span', null, executionLink(String(v.execution_id)),
      ` (${v.task_id})`);
  if (typeof v === 'object' && typeof v.execution_id === 'string')
    return h('span', null, executionLink(v.execution_id),
      v.task_id ? ` (${v.task_id})` : '');
  if (typeof v === 'object') return h('code', null, JSON.stringify(v));
  if (key.endsWith('_id') || key === 'idempotency_key' || key === 'traceparent')
    return h('code', null, String(v));
  return String(v);
}

function fields(r) {
  const keys = [...FIELD_ORDER.filter((k) => k in r),
    ...Object.keys(r).filter((k) => !FIELD_ORDER.includes(k)
      && !SHOWN_ELSEWHERE.has(k)).sort()];
  return h('dl', { class: 'fields-list', id: 'fields' }, keys.map((k) => [
    h('dt', null, k), h('dd', { dataset: { field: k } }, value(k, r[k]))]));
}

/// The timings as a bar: waiting (created → started), running (started
/// → finished), closing (finished → closed), with each time named below.
function timeline(r) {
  const now = Date.now() * 1000;
  const start = r.created_at_us;
  if (!start) return null;
  const end = r.closed_at_us || r.finished_at_us || now;
  const span = Math.max(1, end - start);
  const bar = h('div', { class: 'timeline-bar', role: 'img' });
  const segments = [
    ['waiting', start, r.started_at_us || (r.finished_at_us || end)],
    ['running', r.started_at_us, r.finished_at_us || (r.started_at_us ? end : 0)],
    ['closing', r.finished_at_us, r.closed_at_us],
  ];
  const said = [];
  for (const [cls, from, to] of segments) {
    if (!from || !to || to <= from) continue;
    const seg = h('div', { class: 'seg-' + cls,
      title: `${cls}: ${formatDuration(to - from)}` });
    // CSSOM, which the Content-Security-Policy allows (no style attribute).
    seg.style.left = `${((from - start) / span) * 100}%`;
    seg.style.width = `${Math.max(0.5, ((to - from) / span) * 100)}%`;
    bar.append(seg);
    said.push(`${cls} ${formatDuration(to - from)}`);
  }
  bar.setAttribute('aria-label', said.join(', ') || 'no timings yet');
  const marks = [['created', r.created_at_us], ['due', r.start_at_us],
    ['started', r.started_at_us], ['finished', r.finished_at_us],
    ['closed', r.closed_at_us]].filter(([, t]) => t);
  return h('div', { class: 'timeline', id: 'timeline' }, bar,
    h('ol', { class: 'timeline-marks' }, marks.map(([label, t]) =>
      h('li', null, h('span', { class: 'muted' }, label + ' '), time(t),
        t !== start ? h('span', { class: 'muted' },
          ` +${formatDuration(t - start)}`) : null))),
    h('p', { class: 'legend-line' }, said.map((s) => h('span', { class:
      'chip-' + s.split(' ')[0] }, s))));
}

function childrenSummary(r) {
  const c = r.children_summary;
  if (!c || !c.total) return null;
  return h('p', { id: 'children-summary' }, `${c.total} children: `,
    Object.entries(c.by_status || {}).map(([s, n], i) => [i ? ', ' : '',
      h('a', { href: listHash({ parent_id: r.execution_id, status: s }) },
        `${n} ${s.replaceAll('_', ' ')}`)]));
}

/// Retries one failed top-level execution as the bulk route does (same
/// task, input and options; idempotency key `retry-of:<id>`), with a filter
/// that a dry run shows names this execution only. Falls back to enqueueing
/// its input again under the same key when no filter singles it out.
async function retryOne(r) {
  const q = { task_id: r.task_id, status: r.status,
    created_from_us: r.created_at_us, created_before_us: r.created_at_us + 1 };
  try {
    const dry = await post('/v1/executions/retry', { ...q, dry_run: 'true' },
      {});
    if (dry.matched === 1 && dry.execution_ids[0] === r.execution_id) {
      const done = await post('/v1/executions/retry', q, {});
      if (done.execution_ids.length) return done.execution_ids[0];
    }
  } catch (e) {
    if (e.status === 401) throw e;
  }
  const full = await get(executionPath(r.execution_id));
  const ref = await post(`/v1/tasks/${encodeURIComponent(r.task_id)}/executions`,
    null, { input: full.input ?? null,
      options: { idempotency_key: 'retry-of:' + r.execution_id } });
  return ref.execution_id;
}

function wakeForm(r, after) {
  const output = h('textarea', { id: 'wake-output', rows: 3,
    spellcheck: 'false', 'aria-label': 'Output (JSON)' }, '"approved"');
  const message = h('input', { id: 'wake-error', autocomplete: 'off',
    'aria-label': 'Error message', value: '' });
  const complete = h('input', { type: 'radio', name: 'wake-as', value: 'output',
    id: 'wake-as-output', checked: true });
  const fail = h('input', { type: 'radio', name: 'wake-as', value: 'error',
    id: 'wake-as-error' });
  const status = h('p', { role: 'status', id: 'wake-status' });
  const form = h('form', { class: 'wake panel', id: 'wake-form',
    method: 'post', action: '#' },
  h('h2', null, 'Wake'),
  h('p', { class: 'muted' }, 'This execution sleeps until woken with ',
    h('code', null, String(r.sleeping_id ?? '')), '.'),
  h('div', { class: 'wake-choice' },
    h('label', null, complete, ' Complete with output (JSON)'), output),
  h('div', { class: 'wake-choice' },
    h('label', null, fail, ' Fail with message'), message),
  h('button', { type: 'submit', class: 'primary', id: 'wake-submit' },
    'Wake'), status);
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { sleeping_id: r.sleeping_id };
    if (fail.checked) body.error = message.value;
    else {
      try {
        body.output = JSON.parse(output.value);
      } catch (e) {
        status.textContent = 'The output is not JSON: ' + e.message;
        status.className = 'error';
        return;
      }
    }
    try {
      await post(`/v1/tasks/${encodeURIComponent(r.task_id)}/wake`, null, body);
      status.textContent = 'Woken.';
      status.className = 'ok';
      after();
    } catch (e) {
      status.textContent = 'The node refused: ' + e.message;
      status.className = 'error';
    }
  });
  return form;
}

export function renderDetail(main, route) {
  const id = route.id;
  const controller = new AbortController();
  const signal = controller.signal;
  const head = h('div', { class: 'detail-head' }, note('Loading…'));
  const message = h('p', { role: 'status', id: 'action-status' });
  const [wakeSlot, fieldsSlot, timelineSlot, errorSlot, payloadSlot] =
    [0, 1, 2, 3, 4].map(() => h('div'));
  const tree = treeView(id, { signal });
  const treePanel = h('section', { class: 'panel', id: 'tree-panel',
    'aria-labelledby': 'tree-title' },
  h('div', { class: 'panel-head' }, h('h2', { id: 'tree-title' }, 'Tree'),
    h('button', { type: 'button', class: 'ghost', id: 'tree-reload',
      onclick: () => tree.reload() }, 'Reload')), tree.element);
  treePanel.hidden = true;
  main.replaceChildren(head, message, h('div', { class: 'detail-grid' },
    h('div', { class: 'detail-main' }, errorSlot, treePanel, payloadSlot),
    h('div', { class: 'detail-side' }, wakeSlot, fieldsSlot, timelineSlot)));
  let last = null;

  const say = (text, kind = 'ok') => {
    message.textContent = text;
    message.className = kind;
  };

  function actions(r) {
    const out = [];
    if (!FINISHED.has(r.status))
      out.push(h('button', { type: 'button', class: 'danger', id: 'cancel',
        onclick: async () => {
          const ok = await showDialog('Cancel this execution?',
            [h('p', null, 'It and every unfinished descendant will be '
              + 'cancelled.')],
            [{ label: 'Keep it', value: false, id: 'cancel-no' },
              { label: 'Cancel it', value: true, class: 'danger',
                id: 'cancel-yes' }]);
          if (!ok) return;
          try {
            await post(executionPath(id, '/cancel'), null, {});
            say('Cancelled. The tree below is read again to show the '
              + 'cascade.');
            await refresh(true);
            setTimeout(() => !signal.aborted && tree.reload(), 1500);
          } catch (e) {
            say('The cancel failed: ' + e.message, 'error');
          }
        } }, 'Cancel'));
    if (ERRORED.has(r.status) && !r.parent && r.kind !== 'sleeping')
      out.push(h('button', { type: 'button', class: 'primary', id: 'retry',
        onclick: async () => {
          const ok = await showDialog('Retry this execution?',
            [h('p', null, `${r.task_id} is enqueued again with the same `
              + `input, under the idempotency key retry-of:${id}.`)],
            [{ label: 'Not now', value: false },
              { label: 'Retry', value: true, class: 'primary',
                id: 'retry-yes' }]);
          if (!ok) return;
          try {
            const next = await retryOne(r);
            location.hash = '#/executions/' + encodeURIComponent(next);
          } catch (e) {
            say('The retry failed: ' + e.message, 'error');
          }
        } }, 'Retry'));
    out.push(h('a', { class: 'button ghost', href: listHash({ root_id:
      r.root ? r.root.execution_id : r.execution_id }) }, 'List the tree'));
    return h('div', { class: 'actions' }, out);
  }

  function show(r) {
    head.replaceChildren(
      h('div', { class: 'title-row' }, h('h1', { id: 'detail-title' },
        String(r.task_id)), badge(r.status), actions(r)),
      h('p', { class: 'mono', id: 'detail-id' }, String(r.execution_id)));
    wakeSlot.replaceChildren(r.kind === 'sleeping' && !FINISHED.has(r.status)
      && r.sleeping_id ? wakeForm(r, () => refresh(true)) : '');
    fieldsSlot.replaceChildren(h('section', { class: 'panel',
      'aria-labelledby': 'f-title' }, h('h2', { id: 'f-title' }, 'Fields'),
    fields(r)));
    const tl = timeline(r);
    timelineSlot.replaceChildren(tl ? h('section', { class: 'panel',
      'aria-labelledby': 't-title' }, h('h2', { id: 't-title' }, 'Timeline'),
    tl) : '');
    errorSlot.replaceChildren(r.error ? h('section', { class:
      'panel error-panel', 'aria-labelledby': 'e-title' },
    h('h2', { id: 'e-title' }, 'Error'),
    h('p', { class: 'error-message', id: 'error-message' },
      String(r.error.message ?? '')), jsonBlock(r.error, 'Error')) : '');
    const parts = [];
    const payloads = [['input', 'Input'], ['output', 'Output'],
      ['run_output', 'Own output (before its children finished)']];
    for (const [k, label] of payloads)
      if (k in r) parts.push(h('section', { class: 'panel payload',
        id: 'payload-' + k, 'aria-label': label }, h('h2', null, label),
      jsonBlock(r[k], label)));
    const cs = childrenSummary(r);
    if (cs) parts.push(h('section', { class: 'panel' },
      h('h2', null, 'Children'), cs));
    payloadSlot.replaceChildren(...parts);
    treePanel.hidden = !['parent', 'sequence', 'loop'].includes(r.kind);
  }

  /// Reads the execution again; `force` reads the tree again too (after
  /// an action), as does any change of status or version.
  async function refresh(force = false) {
    let r;
    try {
      r = await get(executionPath(id), null, { signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (!last) {
        head.replaceChildren(h('h1', null, 'Execution'),
          h('p', { class: 'mono' }, id));
        errorSlot.replaceChildren(failure(e, 'This execution'));
      }
      // None such (or removed by retention): nothing more to read.
      if (e.status === 404) gone = true;
      return;
    }
    const changed = !last || last.status !== r.status
      || last.version !== r.version;
    if (changed) {
      const focused = document.activeElement && document.activeElement.id;
      show(r);
      if (focused) document.getElementById(focused)?.focus();
    }
    const branch = ['parent', 'sequence', 'loop'].includes(r.kind);
    if (branch && (!last || force || (changed && last.status !== r.status)))
      tree.reload();
    last = r;
  }

  let gone = false;
  const stopPoll = poll(async () => {
    await refresh();
    // A finished execution changes no more: stop reading it.
    if (gone || (last && FINISHED.has(last.status))) stopPoll();
  }, 2000);

  return () => {
    stopPoll();
    controller.abort();
  };
}
