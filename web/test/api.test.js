import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api.js';
import { calls, makeJwt, mockFetch } from './helpers.js';

beforeEach(() => {
  localStorage.clear();
});
afterEach(() => {
  vi.unstubAllGlobals();
});

describe('decodeJwt', () => {
  it('decodes a base64url payload with UTF-8 text', () => {
    const payload = { exp: 123, name: '広場 ~?>' };
    const b64 = Buffer.from(JSON.stringify(payload)).toString('base64url');
    expect(api.decodeJwt(`x.${b64}.y`)).toEqual(payload);
    expect(api.tokenExpiryMs(`x.${b64}.y`)).toBe(123000);
  });

  it('returns null for garbage', () => {
    expect(api.decodeJwt('nope')).toBeNull();
    expect(api.decodeJwt('a.!!!.c')).toBeNull();
    expect(api.tokenExpiryMs(null)).toBeNull();
  });
});

describe('request', () => {
  it('sends the Bearer token and JSON, and parses the answer', async () => {
    const access = makeJwt();
    api.tokens.set({ access, refresh: makeJwt({ type: 'refresh' }) });
    const fetch = mockFetch(() => [201, { id: 1, name: '雑談' }]);
    const row = await api.post('/api/categories/', { name: '雑談' });
    expect(row).toEqual({ id: 1, name: '雑談' });
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/categories/');
    expect(init.headers.Authorization).toBe(`Bearer ${access}`);
    expect(init.headers['Content-Type']).toBe('application/json');
    expect(JSON.parse(init.body)).toEqual({ name: '雑談' });
  });

  it('builds query strings without empty values', () => {
    expect(api.buildUrl('/api/topics/', { page: 2, search: '', category: undefined, q: 'a b' })).toBe(
      '/api/topics/?page=2&q=a+b',
    );
    expect(api.buildUrl('/api/x/', {})).toBe('/api/x/');
  });

  it('turns error bodies into ApiError messages and field errors', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    mockFetch(() => [400, { category: ['主キー "9" は不正です - データが存在しません。'], comment: ['この項目は必須です。'] }]);
    const err = await api.post('/api/topics/', {}).catch((e) => e);
    expect(err).toBeInstanceOf(api.ApiError);
    expect(err.status).toBe(400);
    expect(err.fieldErrors).toEqual({
      category: ['主キー "9" は不正です - データが存在しません。'],
      comment: ['この項目は必須です。'],
    });
    expect(err.message).toContain('comment: この項目は必須です。');

    mockFetch(() => [403, { detail: 'このアクションを実行する権限がありません。' }]);
    const denied = await api.del('/api/topics/1/').catch((e) => e);
    expect(denied.status).toBe(403);
    expect(denied.message).toBe('このアクションを実行する権限がありません。');
  });

  it('reports network failures with code "network"', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('Failed to fetch'))));
    const err = await api.get('/api/topics/').catch((e) => e);
    expect(err.code).toBe('network');
    expect(err.status).toBe(0);
  });

  it('returns null for 204', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    mockFetch(() => [204, undefined]);
    await expect(api.del('/api/topics/1/')).resolves.toBeNull();
  });
});

describe('token refresh', () => {
  it('refreshes once on 401 and retries with the new token', async () => {
    const oldAccess = makeJwt();
    const oldRefresh = makeJwt({ type: 'refresh' });
    const newAccess = makeJwt();
    const newRefresh = makeJwt({ type: 'refresh' });
    api.tokens.set({ access: oldAccess, refresh: oldRefresh });
    const fetch = mockFetch((method, path, { headers, body }) => {
      if (path === '/api/token/refresh/') {
        expect(body).toEqual({ refresh: oldRefresh });
        return [200, { access: newAccess, refresh: newRefresh }];
      }
      return headers.Authorization === `Bearer ${newAccess}` ? [200, []] : [401, { detail: 'x', code: 'token_not_valid' }];
    });
    await expect(api.get('/api/topics/')).resolves.toEqual([]);
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
    expect(api.tokens.access).toBe(newAccess);
    expect(api.tokens.refresh).toBe(newRefresh);
  });

  it('shares one refresh between parallel 401s', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    const newAccess = makeJwt();
    let release;
    const gate = new Promise((r) => (release = r));
    const fetch = mockFetch(async (method, path, { headers }) => {
      if (path === '/api/token/refresh/') {
        await gate;
        return [200, { access: newAccess, refresh: makeJwt({ type: 'refresh' }) }];
      }
      return headers.Authorization === `Bearer ${newAccess}` ? [200, { ok: path }] : [401, { detail: 'x' }];
    });
    const pending = [api.get('/api/a/'), api.get('/api/b/'), api.get('/api/c/')];
    await vi.waitFor(() => expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1));
    release();
    await expect(Promise.all(pending)).resolves.toEqual([{ ok: '/api/a/' }, { ok: '/api/b/' }, { ok: '/api/c/' }]);
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
  });

  it('refreshes an expired access token before sending, once for parallel calls', async () => {
    api.tokens.set({ access: makeJwt({ ttl: -5 }), refresh: makeJwt({ type: 'refresh' }) });
    const newAccess = makeJwt();
    const fetch = mockFetch((method, path, { headers }) => {
      if (path === '/api/token/refresh/') return [200, { access: newAccess, refresh: makeJwt({ type: 'refresh' }) }];
      expect(headers.Authorization).toBe(`Bearer ${newAccess}`);
      return [200, []];
    });
    await Promise.all([api.get('/api/a/'), api.get('/api/b/')]);
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
    expect(fetch.mock.calls.filter(([u]) => u !== '/api/token/refresh/')).toHaveLength(2);
  });

  it('clears the session when the refresh token is refused', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    const heard = [];
    const off = api.tokens.subscribe((reason) => heard.push(reason));
    mockFetch((method, path) =>
      path === '/api/token/refresh/' ? [401, { detail: 'Token is blacklisted', code: 'token_not_valid' }] : [401, { detail: 'x' }],
    );
    const err = await api.get('/api/topics/').catch((e) => e);
    off();
    expect(err.code).toBe('session_expired');
    expect(api.tokens.access).toBeNull();
    expect(api.tokens.refresh).toBeNull();
    expect(heard).toEqual(['expired']);
  });

  it('keeps the session when the refresh fails on the network', async () => {
    const refresh = makeJwt({ type: 'refresh' });
    api.tokens.set({ access: makeJwt({ ttl: -1 }), refresh });
    vi.stubGlobal('fetch', vi.fn(() => Promise.reject(new TypeError('offline'))));
    const err = await api.refreshTokens().catch((e) => e);
    expect(err.code).toBe('network');
    expect(api.tokens.refresh).toBe(refresh);
  });

  it('adopts a pair another tab stored while the refresh was refused', async () => {
    const mine = makeJwt({ type: 'refresh' });
    const theirs = { access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) };
    api.tokens.set({ access: makeJwt({ ttl: -1 }), refresh: mine });
    mockFetch(() => {
      // The other tab wins the race and writes its rotated pair first.
      localStorage.setItem('access', theirs.access);
      localStorage.setItem('refresh', theirs.refresh);
      return [401, { detail: 'Token is blacklisted', code: 'token_not_valid' }];
    });
    await expect(api.refreshTokens()).resolves.toBe(theirs.access);
    expect(api.tokens.refresh).toBe(theirs.refresh);
  });
});

describe('auth endpoints', () => {
  it('login stores both tokens', async () => {
    const pair = { refresh: makeJwt({ type: 'refresh' }), access: makeJwt() };
    const fetch = mockFetch(() => [200, pair]);
    await api.login('alice', 'pw with space ');
    expect(JSON.parse(fetch.mock.calls[0][1].body)).toEqual({ username: 'alice', password: 'pw with space ' });
    expect(fetch.mock.calls[0][1].headers.Authorization).toBeUndefined();
    expect(localStorage.getItem('access')).toBe(pair.access);
    expect(localStorage.getItem('refresh')).toBe(pair.refresh);
  });

  it('logout posts the refresh token with the Bearer header, then clears storage', async () => {
    const access = makeJwt();
    const refresh = makeJwt({ type: 'refresh' });
    api.tokens.set({ access, refresh });
    const fetch = mockFetch(() => [200, { message: 'ログアウト成功しました' }]);
    await expect(api.logout()).resolves.toBe(true);
    const [url, init] = fetch.mock.calls[0];
    expect(url).toBe('/api/logout/');
    expect(init.headers.Authorization).toBe(`Bearer ${access}`);
    expect(JSON.parse(init.body)).toEqual({ refresh });
    expect(api.tokens.access).toBeNull();
    expect(api.tokens.refresh).toBeNull();
  });

  it('logout clears storage even when the server refuses', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    mockFetch(() => [400, { error: 'Token is blacklisted' }]);
    await expect(api.logout()).resolves.toBe(false);
    expect(api.tokens.refresh).toBeNull();
  });
});

describe('lists', () => {
  it('normalises plain arrays and DRF pages', () => {
    expect(api.toPage([{ id: 1 }])).toEqual({ results: [{ id: 1 }], count: 1, next: null, previous: null, paginated: false });
    expect(api.toPage({ count: 30, next: 'http://h/api/topics/?page=3', previous: 'http://h/api/topics/', results: [] })).toEqual({
      results: [],
      count: 30,
      next: 'http://h/api/topics/?page=3',
      previous: 'http://h/api/topics/',
      paginated: true,
    });
    expect(() => api.toPage({ detail: 'x' })).toThrow(api.ApiError);
  });

  it('listAll follows next links as same-origin paths', async () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = mockFetch((method, path) => {
      if (path === '/api/rooms/1/chatlogs/') return [200, { count: 3, next: 'http://evil.example/api/rooms/1/chatlogs/?page=2', previous: null, results: [{ id: 1 }, { id: 2 }] }];
      if (path === '/api/rooms/1/chatlogs/?page=2') return [200, { count: 3, next: null, previous: 'x', results: [{ id: 3 }] }];
      return [404, { detail: '見つかりませんでした。' }];
    });
    await expect(api.listAll('/api/rooms/1/chatlogs/')).resolves.toEqual([{ id: 1 }, { id: 2 }, { id: 3 }]);
    expect(fetch.mock.calls.map(([u]) => u)).toEqual(['/api/rooms/1/chatlogs/', '/api/rooms/1/chatlogs/?page=2']);
  });

  it('mergeById dedupes and sorts', () => {
    const list = [{ id: 3, v: 'a' }, { id: 1, v: 'b' }];
    expect(api.mergeById(list, [{ id: 2 }, { id: 3, v: 'c' }])).toEqual([{ id: 1, v: 'b' }, { id: 2 }, { id: 3, v: 'c' }]);
    expect(api.upsertById(list, { id: 5 }, true).map((r) => r.id)).toEqual([5, 3, 1]);
  });
});

describe('helpers', () => {
  it('builds WebSocket URLs from location without any token', () => {
    api.tokens.set({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) });
    const url = api.wsUrl('/ws/chat/7/', { after: 12 });
    expect(url).toBe(`ws://${location.host}/ws/chat/7/?after=12`);
    expect(url).not.toContain('eyJ');
  });

  it('canModify: author or staff only; authorless rows are staff-only', () => {
    const alice = { id: 1, is_staff: false };
    const staff = { id: 9, is_staff: true };
    expect(api.canModify(alice, { author: { id: 1 } })).toBe(true);
    expect(api.canModify(alice, { author: { id: 2 } })).toBe(false);
    expect(api.canModify(alice, { author: null })).toBe(false);
    expect(api.canModify(staff, { author: null })).toBe(true);
    expect(api.canModify(null, { author: { id: 1 } })).toBe(false);
  });
});
