// The node's HTTP API as the console calls it (docs/http-api.md): JSON in
// and out, the bearer token from sessionStorage in the Authorization
// header (never in a URL), and errors as ApiError with the API's kind and
// message. A 401 from any call asks for the token (onUnauthorized).

const TOKEN_KEY = 'durable.token';

export class ApiError extends Error {
  constructor(status, kind, message) {
    super(message);
    this.status = status;
    this.kind = kind || '';
  }

  /// The node has no such route or parameter: an older node, or a feature
  /// it was built without. Panels say "not available" rather than fail.
  get unavailable() {
    return (this.status === 404 && this.message.startsWith('No route'))
      || this.status === 405
      || (this.status === 400
          && this.message.startsWith('Unknown query parameter'));
  }
}

let unauthorized = () => {};

/// Called (once per failing call) when the API answers 401.
export function onUnauthorized(fn) {
  unauthorized = fn;
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/// `query`'s entries with a value, as a query string ("" when none).
export function queryString(query) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query || {}))
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  const s = q.toString();
  return s ? '?' + s : '';
}

/// Calls the API; resolves to the parsed body, rejects with ApiError.
export async function api(method, path, { query, body, signal } = {}) {
  const headers = { Accept: 'application/json' };
  const t = token();
  if (t) headers.Authorization = 'Bearer ' + t;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch(path + queryString(query), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
      redirect: 'error',
      signal,
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', 'The node did not answer: ' + e.message);
  }
  const text = await res.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const err = (data && data.error) || {};
  const e = new ApiError(res.status, err.kind,
    err.message || `${res.status} ${res.statusText}`);
  if (res.status === 401) unauthorized(e);
  throw e;
}

export const get = (path, query, opts) => api('GET', path, { ...opts, query });
export const post = (path, query, body) => api('POST', path, { query, body });

/// The path of one execution's route.
export const executionPath = (id, tail = '') =>
  '/v1/executions/' + encodeURIComponent(id) + tail;
