// The one HTTP client of the SPA: token storage, the Bearer header, single-flight token refresh,
// error normalisation and list/pagination helpers. Everything the app sends to /api/ goes through
// request(); nothing else touches fetch() or the token keys in localStorage.
//
// Token rules (API.md §3): the access token lives 2 minutes, the refresh token rotates on every
// refresh and the old one is blacklisted at once. So at most one refresh may be in flight per tab
// (parallel 401s wait for it), and across tabs the Web Locks API serialises refreshes.

const ACCESS_KEY = 'access';
const REFRESH_KEY = 'refresh';
const LOCK_NAME = 'hiroba-token-refresh';
// An access token closer than this to its expiry is refreshed before use.
const MIN_VALIDITY_MS = 10_000;

/** An error from the API or the network. `code` names client-side failures for translation. */
export class ApiError extends Error {
  constructor(status, data, code) {
    super(describeError(status, data, code));
    this.name = 'ApiError';
    this.status = status;
    this.data = data;
    this.code = code || null;
  }

  /** Field name -> array of messages, for validation errors (400 bodies other than detail/error). */
  get fieldErrors() {
    if (this.status !== 400 || !this.data || typeof this.data !== 'object') return {};
    const out = {};
    for (const [key, value] of Object.entries(this.data)) {
      if (key === 'detail' || key === 'error' || key === 'code') continue;
      out[key] = Array.isArray(value) ? value.map(String) : [String(value)];
    }
    return out;
  }
}

function describeError(status, data, code) {
  if (code) return code;
  if (data && typeof data === 'object') {
    if (typeof data.detail === 'string') return data.detail;
    if (typeof data.error === 'string') return data.error;
    const parts = [];
    for (const [key, value] of Object.entries(data)) {
      const text = Array.isArray(value) ? value.join(' ') : String(value);
      parts.push(key === 'non_field_errors' ? text : `${key}: ${text}`);
    }
    if (parts.length) return parts.join('\n');
  }
  if (typeof data === 'string' && data.trim()) return data.trim().slice(0, 300);
  return `HTTP ${status}`;
}

/** Decodes a JWT's payload without verifying it (the server verifies). Null when malformed. */
export function decodeJwt(token) {
  try {
    const part = String(token).split('.')[1];
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const bin = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
    const payload = JSON.parse(new TextDecoder().decode(bytes));
    return payload && typeof payload === 'object' ? payload : null;
  } catch {
    return null;
  }
}

/** Milliseconds since the epoch at which the token expires, or null. */
export function tokenExpiryMs(token) {
  const payload = token ? decodeJwt(token) : null;
  return payload && typeof payload.exp === 'number' ? payload.exp * 1000 : null;
}

function expiresWithin(token, ms) {
  const exp = tokenExpiryMs(token);
  return exp === null || exp - Date.now() <= ms;
}

// ---------------------------------------------------------------------------------------------
// Token storage. Listeners hear every change, including changes made by another tab.

const listeners = new Set();

function notify(reason) {
  for (const fn of [...listeners]) fn(reason);
}

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}

export const tokens = {
  get access() {
    return storageGet(ACCESS_KEY);
  },
  get refresh() {
    return storageGet(REFRESH_KEY);
  },
  set({ access, refresh }) {
    localStorage.setItem(ACCESS_KEY, access);
    if (refresh) localStorage.setItem(REFRESH_KEY, refresh);
    notify('set');
  },
  clear(reason = 'clear') {
    const had = storageGet(ACCESS_KEY) !== null || storageGet(REFRESH_KEY) !== null;
    localStorage.removeItem(ACCESS_KEY);
    localStorage.removeItem(REFRESH_KEY);
    if (had) notify(reason);
  },
  /** Calls fn(reason) on every change; returns the unsubscribe function. */
  subscribe(fn) {
    listeners.add(fn);
    return () => listeners.delete(fn);
  },
};

if (typeof window !== 'undefined') {
  window.addEventListener('storage', (event) => {
    if (event.key === ACCESS_KEY || event.key === REFRESH_KEY || event.key === null) notify('storage');
  });
}

// ---------------------------------------------------------------------------------------------
// Refresh: one in flight per tab; across tabs serialised by a Web Lock when the browser has one.

let inflight = null;

/** Rotates the token pair. Concurrent callers share one request. Resolves to the new access token. */
export function refreshTokens() {
  if (!inflight) {
    const seen = tokens.refresh;
    const run = () => doRefresh(seen);
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    const job = locks && typeof locks.request === 'function' ? locks.request(LOCK_NAME, run) : run();
    inflight = job.finally(() => {
      inflight = null;
    });
  }
  return inflight;
}

async function doRefresh(seen) {
  const current = tokens.refresh;
  if (!current) throw new ApiError(401, null, 'session_expired');
  // Another tab rotated the pair while this one waited for the lock: use its result.
  if (current !== seen && !expiresWithin(tokens.access, MIN_VALIDITY_MS)) return tokens.access;

  let res;
  let data;
  try {
    res = await fetch('/api/token/refresh/', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ refresh: current }),
    });
    data = await readBody(res);
  } catch {
    throw new ApiError(0, null, 'network');
  }
  if (res.ok && data && typeof data.access === 'string') {
    tokens.set({ access: data.access, refresh: data.refresh });
    return data.access;
  }
  // Lost a race with another tab that already stored the rotated pair.
  if (tokens.refresh && tokens.refresh !== current) return tokens.access;
  if (res.status === 400 || res.status === 401) {
    tokens.clear('expired');
    throw new ApiError(401, data, 'session_expired');
  }
  throw new ApiError(res.status, data);
}

/** A usable access token (refreshed first when it is about to expire), or null when logged out. */
export async function ensureAccess() {
  const access = tokens.access;
  if (access && !expiresWithin(access, MIN_VALIDITY_MS)) return access;
  if (tokens.refresh) return refreshTokens();
  return null;
}

// ---------------------------------------------------------------------------------------------
// Requests

async function readBody(res) {
  if (res.status === 204) return null;
  const text = await res.text();
  if (!text) return null;
  const type = res.headers.get('Content-Type') || '';
  if (type.includes('json')) {
    try {
      return JSON.parse(text);
    } catch {
      return text;
    }
  }
  return text;
}

/** Builds "/path?k=v" from a query object, leaving out empty values. */
export function buildUrl(path, query) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') params.set(key, String(value));
  }
  const qs = params.toString();
  return qs ? `${path}${path.includes('?') ? '&' : '?'}${qs}` : path;
}

/**
 * Sends one API request and returns the parsed body (null for 204). Throws ApiError.
 * auth: attach the access token (default true); a 401 triggers one shared refresh and one retry.
 */
export async function request(method, path, { body, query, auth = true } = {}) {
  const url = buildUrl(path, query);
  const send = async (token) => {
    const headers = { Accept: 'application/json' };
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await fetch(url, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, null, 'network');
    }
  };

  let token = auth ? await ensureAccess() : null;
  let res = await send(token);
  if (res.status === 401 && token) {
    // Only the first caller to see this token rejected refreshes; later ones reuse the result.
    token = tokens.access === token ? await refreshTokens() : await ensureAccess();
    if (token) res = await send(token);
  }
  let data;
  try {
    data = await readBody(res);
  } catch {
    throw new ApiError(0, null, 'network');
  }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

export const get = (path, query) => request('GET', path, { query });
export const post = (path, body) => request('POST', path, { body });
export const put = (path, body) => request('PUT', path, { body });
export const patch = (path, body) => request('PATCH', path, { body });
export const del = (path) => request('DELETE', path);

// ---------------------------------------------------------------------------------------------
// Lists: plain arrays (the stack's default) or DRF pages {count,next,previous,results} (§7.2).

/** Normalises a list response into {results, count, next, previous, paginated}. */
export function toPage(data) {
  if (Array.isArray(data)) {
    return { results: data, count: data.length, next: null, previous: null, paginated: false };
  }
  if (data && typeof data === 'object' && Array.isArray(data.results)) {
    return {
      results: data.results,
      count: typeof data.count === 'number' ? data.count : data.results.length,
      next: data.next || null,
      previous: data.previous || null,
      paginated: true,
    };
  }
  throw new ApiError(0, data, 'bad_response');
}

/** A server-given next/previous URL reduced to a same-origin path, so no token goes elsewhere. */
export function samePath(url) {
  const base = typeof location !== 'undefined' ? location.href : 'http://localhost/';
  const parsed = new URL(url, base);
  return parsed.pathname + parsed.search;
}

/** One page of a list. */
export async function getPage(path, query) {
  return toPage(await get(path, query));
}

/** Every item of a list, following `next` links when the server paginates. */
export async function listAll(path, query, maxPages = 50) {
  let page = await getPage(path, query);
  let items = page.results;
  for (let n = 1; page.next && n < maxPages; n++) {
    page = toPage(await get(samePath(page.next)));
    items = items.concat(page.results);
  }
  return items;
}

/** Merges rows into a list by id (later rows win), sorted by id (descending when desc). */
export function mergeById(list, rows, desc = false) {
  const byId = new Map(list.map((r) => [r.id, r]));
  for (const row of rows) byId.set(row.id, row);
  return [...byId.values()].sort((a, b) => (desc ? b.id - a.id : a.id - b.id));
}

/** Inserts or replaces one row by id. */
export function upsertById(list, row, desc = false) {
  return mergeById(list, [row], desc);
}

// ---------------------------------------------------------------------------------------------
// Authentication endpoints (§3). State lives in the auth context; these only talk HTTP.

export async function login(username, password) {
  const data = await request('POST', '/api/token/', { body: { username, password }, auth: false });
  tokens.set({ access: data.access, refresh: data.refresh });
  return data;
}

export function register(fields) {
  return request('POST', '/api/register/', { body: fields, auth: false });
}

/**
 * Blacklists the refresh token, then clears storage whatever the answer. Resolves to true when the
 * server confirmed. An in-flight or due refresh runs first, so the token sent is the current one.
 */
export async function logout() {
  let confirmed = false;
  try {
    if (inflight) await inflight.catch(() => null);
    await ensureAccess();
    const refresh = tokens.refresh;
    if (refresh) {
      await request('POST', '/api/logout/', { body: { refresh } });
      confirmed = true;
    }
  } catch {
    /* storage is cleared below either way; the access token expires on its own (§3.6) */
  } finally {
    tokens.clear('logout');
  }
  return confirmed;
}

export function fetchMe() {
  return get('/api/me/');
}

/** ws:// or wss:// URL for a same-origin WebSocket path. Tokens never go in it (§6.2). */
export function wsUrl(path, query) {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}${buildUrl(path, query)}`;
}

/** True when the user may edit or delete a row (API.md §4.2): its author, or staff. */
export function canModify(user, row) {
  if (!user || !row) return false;
  if (user.is_staff) return true;
  return Boolean(row.author && row.author.id === user.id);
}
