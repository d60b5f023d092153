// The URL hash names the page, its filter and the execution shown:
//   #/                                 the overview
//   #/executions?status=failed&task_id=x   the list, filtered
//   #/executions/te_…                  one execution
//   #/search?q=…                       what the search box found
// so that links can be shared and back/forward walk the pages.

/// The route of a hash: {page, id, params}.
export function parse(hash) {
  const raw = (hash || '').replace(/^#/, '') || '/';
  const q = raw.indexOf('?');
  const path = q < 0 ? raw : raw.slice(0, q);
  const params = new URLSearchParams(q < 0 ? '' : raw.slice(q + 1));
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: 'overview', params };
  if (parts[0] === 'executions' && parts.length === 1)
    return { page: 'list', params };
  if (parts[0] === 'executions' && parts.length === 2)
    return { page: 'detail', id: parts[1], params };
  if (parts[0] === 'search') return { page: 'search', params };
  return { page: 'missing', params };
}

/// The hash of a list with `params` (entries without a value dropped).
export function listHash(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return '#/executions' + (s ? '?' + s : '');
}

export function go(hash) {
  if (location.hash === hash) window.dispatchEvent(new HashChangeEvent('hashchange'));
  else location.hash = hash;
}
