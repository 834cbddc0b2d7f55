// Test helpers: unsigned JWTs with a chosen expiry, and a scripted fetch.
import { vi } from 'vitest';

const b64u = (obj) =>
  Buffer.from(JSON.stringify(obj)).toString('base64').replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');

let serial = 0;
/** A JWT whose payload has exp = now + ttlSeconds (signature is not checked client-side). */
export function makeJwt({ ttl = 120, type = 'access', userId = 1 } = {}) {
  const now = Math.floor(Date.now() / 1000);
  serial += 1;
  return `${b64u({ alg: 'HS256', typ: 'JWT' })}.${b64u({
    token_type: type,
    exp: now + ttl,
    iat: now,
    jti: `jti${serial}`,
    user_id: userId,
  })}.sig${serial}`;
}

export function jsonResponse(status, body) {
  return new Response(body === undefined ? null : JSON.stringify(body), {
    status,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
  });
}

/**
 * Installs a fetch mock. handler(method, path, {headers, body}) returns [status, body] or a
 * Promise of it. Returns the vi.fn, whose calls can be inspected with calls(fn, method, path).
 */
export function mockFetch(handler) {
  const fn = vi.fn(async (url, init = {}) => {
    const method = init.method || 'GET';
    const body = init.body ? JSON.parse(init.body) : undefined;
    const [status, data] = await handler(method, String(url), { headers: init.headers || {}, body });
    return jsonResponse(status, data);
  });
  vi.stubGlobal('fetch', fn);
  return fn;
}

/** The fetch calls that hit method + path (path without query unless given). */
export function calls(fn, method, path) {
  return fn.mock.calls.filter(([url, init = {}]) => {
    const m = init.method || 'GET';
    const u = String(url);
    return m === method && (u === path || u.split('?')[0] === path);
  });
}
