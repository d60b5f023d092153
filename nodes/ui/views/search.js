// One search box for an execution id, a sleeping id or an idempotency key:
// an exact id opens the execution; otherwise the executions whose sleeping
// id or idempotency key is the text are listed (one match opens it).

import { get, executionPath } from '../api.js';
import { h, note, failure, executionHref } from '../dom.js';
import { executionsTable } from './table.js';

function openReplacing(id) {
  history.replaceState(null, '', executionHref(id));
  window.dispatchEvent(new HashChangeEvent('hashchange'));
}

export function renderSearch(main, route) {
  const q = (route.params.get('q') || '').trim();
  const box = document.getElementById('search-box');
  if (box && document.activeElement !== box) box.value = q;
  const controller = new AbortController();
  const opts = { signal: controller.signal };
  const results = h('div', { id: 'search-results', 'aria-live': 'polite' },
    note('Searching…'));
  main.replaceChildren(h('h1', null, 'Search'),
    h('p', { class: 'muted' }, 'Executions whose id, sleeping id or '
      + 'idempotency key is ', h('q', { class: 'mono' }, q)), results);
  if (!q) {
    results.replaceChildren(note('Type an id in the search box.'));
    return () => controller.abort();
  }

  const byKey = (param) => get('/v1/executions', { [param]: q, limit: 50 },
    opts).then((p) => ({ rows: p.executions || [] }), (e) => ({ e }));
  const byId = get(executionPath(q), null, opts).then((r) => r, () => null);

  Promise.all([byId, byKey('sleeping_id'), byKey('idempotency_key')])
    .then(([exact, sleeping, keyed]) => {
      if (controller.signal.aborted) return;
      if (exact) return openReplacing(exact.execution_id);
      const seen = new Map();
      for (const part of [sleeping, keyed])
        for (const r of part.rows || []) seen.set(r.execution_id, r);
      if (seen.size === 1) return openReplacing([...seen.keys()][0]);
      const out = [];
      if (seen.size) out.push(executionsTable([...seen.values()],
        'search-table'));
      else out.push(note('Nothing found.', 'muted empty'));
      if (sleeping.e) out.push(failure(sleeping.e, 'Search by sleeping id'));
      if (keyed.e) out.push(failure(keyed.e, 'Search by idempotency key'));
      results.replaceChildren(...out);
    });
  return () => controller.abort();
}
