import { StrictMode } from 'react';
import { act, cleanup, render, screen } from '@testing-library/react';
import { MemoryRouter } from 'react-router-dom';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api.js';
import { AuthProvider, refreshDelay, useAuth } from '../src/auth.jsx';
import { calls, makeJwt, mockFetch } from './helpers.js';

const ME = { id: 1, username: 'alice', email: 'alice@example.com', is_staff: false };

function Probe() {
  const { status, user, notice } = useAuth();
  return (
    <p data-testid="probe">
      {status}:{user?.username ?? '-'}:{notice ?? '-'}
    </p>
  );
}

let auth;
function Grab() {
  auth = useAuth();
  return null;
}

function renderAuth({ strict = false } = {}) {
  const tree = (
    <MemoryRouter>
      <AuthProvider>
        <Probe />
        <Grab />
      </AuthProvider>
    </MemoryRouter>
  );
  return render(strict ? <StrictMode>{tree}</StrictMode> : tree);
}

const probe = () => screen.getByTestId('probe').textContent;

/** A server: /api/me/ answers ME; refresh rotates, counting calls; other paths 200 []. */
function server({ refreshStatus = 200 } = {}) {
  return mockFetch((method, path) => {
    if (path === '/api/token/refresh/') {
      if (refreshStatus !== 200) return [refreshStatus, { detail: 'Token is blacklisted', code: 'token_not_valid' }];
      return [200, { access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) }];
    }
    if (path === '/api/token/') return [200, { refresh: makeJwt({ type: 'refresh' }), access: makeJwt() }];
    if (path === '/api/me/') return [200, ME];
    if (path === '/api/register/') return [201, { message: '会員登録完了' }];
    return [200, []];
  });
}

beforeEach(() => {
  localStorage.clear();
  vi.useFakeTimers();
  vi.setSystemTime(new Date('2025-01-14T08:56:12Z'));
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('refreshDelay', () => {
  it('is one minute before exp, half the rest when that passed, 0 once expired', () => {
    const now = Date.now();
    expect(refreshDelay(makeJwt({ ttl: 120 }), now)).toBe(60_000);
    expect(refreshDelay(makeJwt({ ttl: 40 }), now)).toBe(20_000);
    expect(refreshDelay(makeJwt({ ttl: -10 }), now)).toBe(0);
    expect(refreshDelay('garbage', now)).toBeNull();
  });
});

describe('AuthProvider', () => {
  it('is anonymous without tokens and calls nothing', async () => {
    const fetch = server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(100_000));
    expect(probe()).toBe('anonymous:-:-');
    expect(fetch).not.toHaveBeenCalled();
  });

  it('restores the session on reload without refreshing a fresh token', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = server();
    renderAuth();
    expect(probe()).toBe('loading:-:-');
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(probe()).toBe('authenticated:alice:-');
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(0);
  });

  it('refreshes one minute before the access token expires, and again after', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(59_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(0);
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
    // The new access token (120 s) is refreshed 60 s later, not before.
    await act(() => vi.advanceTimersByTimeAsync(59_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
    await act(() => vi.advanceTimersByTimeAsync(1_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(2);
    expect(probe()).toBe('authenticated:alice:-');
  });

  it('refreshes an expired token exactly once on reload, even under StrictMode double mount', async () => {
    const staleRefresh = makeJwt({ type: 'refresh' });
    api.tokens.set({ access: makeJwt({ ttl: -30 }), refresh: staleRefresh });
    const fetch = server();
    renderAuth({ strict: true });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
    expect(probe()).toBe('authenticated:alice:-');
    expect(api.tokens.refresh).not.toBe(staleRefresh);
  });

  it('parallel requests during a due refresh share it', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(0));
    vi.setSystemTime(Date.now() + 115_000); // the timer has not fired yet; the token is nearly dead
    await act(async () => {
      await Promise.all([api.get('/api/topics/'), api.get('/api/rooms/'), api.get('/api/categories/')]);
    });
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
  });

  it('goes anonymous with a notice when the refresh token is refused', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    server({ refreshStatus: 401 });
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(probe()).toBe('authenticated:alice:-');
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(probe()).toBe('anonymous:-:session_expired');
    expect(api.tokens.refresh).toBeNull();
  });

  it('retries later when the refresh fails on the network', async () => {
    const refresh = makeJwt({ type: 'refresh' });
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh });
    let online = false;
    const fetch = vi.fn(async (url, init) => {
      if (url === '/api/me/') return new Response(JSON.stringify(ME), { status: 200, headers: { 'Content-Type': 'application/json' } });
      if (!online) throw new TypeError('offline');
      return new Response(JSON.stringify({ access: makeJwt(), refresh: makeJwt({ type: 'refresh' }) }), {
        status: 200,
        headers: { 'Content-Type': 'application/json' },
      });
    });
    vi.stubGlobal('fetch', fetch);
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(api.tokens.refresh).toBe(refresh);
    expect(probe()).toBe('authenticated:alice:-');
    online = true;
    await act(() => vi.advanceTimersByTimeAsync(15_000));
    expect(api.tokens.refresh).not.toBe(refresh);
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(2);
  });

  it('login stores tokens, loads the user and schedules the refresh', async () => {
    const fetch = server();
    renderAuth();
    await act(() => auth.login('alice', 'password1'));
    expect(probe()).toBe('authenticated:alice:-');
    expect(api.tokens.access).not.toBeNull();
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(1);
  });

  it('signup registers, then logs in', async () => {
    const fetch = server();
    renderAuth();
    await act(() =>
      auth.signup({ username: 'alice', email: '', password: 'password1', password_confirm: 'password1' }),
    );
    expect(calls(fetch, 'POST', '/api/register/')).toHaveLength(1);
    expect(calls(fetch, 'POST', '/api/token/')).toHaveLength(1);
    expect(probe()).toBe('authenticated:alice:-');
  });

  it('logout blacklists the refresh token, clears storage and stops the timer', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(0));
    await act(() => auth.logout());
    expect(calls(fetch, 'POST', '/api/logout/')).toHaveLength(1);
    expect(probe()).toBe('anonymous:-:-');
    await act(() => vi.advanceTimersByTimeAsync(300_000));
    expect(calls(fetch, 'POST', '/api/token/refresh/')).toHaveLength(0);
  });

  it('logout during an in-flight refresh sends the rotated token', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    let release;
    const gate = new Promise((r) => (release = r));
    const rotated = makeJwt({ type: 'refresh' });
    const fetch = mockFetch(async (method, path) => {
      if (path === '/api/me/') return [200, ME];
      if (path === '/api/token/refresh/') {
        await gate;
        return [200, { access: makeJwt(), refresh: rotated }];
      }
      return [200, { message: 'ログアウト成功しました' }];
    });
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(60_000)); // refresh starts and waits
    let done;
    await act(async () => {
      done = auth.logout();
      release();
      await done;
    });
    const [, init] = calls(fetch, 'POST', '/api/logout/')[0];
    expect(JSON.parse(init.body)).toEqual({ refresh: rotated });
    expect(probe()).toBe('anonymous:-:-');
  });

  it('follows another tab logging out', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(0));
    await act(async () => {
      localStorage.clear();
      window.dispatchEvent(new StorageEvent('storage', { key: null }));
    });
    expect(probe()).toBe('anonymous:-:-');
  });
});

describe('AuthProvider across tabs', () => {
  afterEach(() => cleanup());

  it('does not reload the user when another tab only rotates the pair', async () => {
    api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
    const fetch = server();
    renderAuth();
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls(fetch, 'GET', '/api/me/')).toHaveLength(1);
    await act(async () => {
      localStorage.setItem('access', makeJwt({ ttl: 120 }));
      localStorage.setItem('refresh', makeJwt({ type: 'refresh' }));
      window.dispatchEvent(new StorageEvent('storage', { key: 'refresh' }));
    });
    expect(calls(fetch, 'GET', '/api/me/')).toHaveLength(1);
    expect(probe()).toBe('authenticated:alice:-');
  });

  it('loads the user when another tab logs in', async () => {
    const fetch = server();
    renderAuth();
    await act(async () => {
      localStorage.setItem('access', makeJwt({ ttl: 120 }));
      localStorage.setItem('refresh', makeJwt({ type: 'refresh' }));
      window.dispatchEvent(new StorageEvent('storage', { key: 'refresh' }));
    });
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(calls(fetch, 'GET', '/api/me/')).toHaveLength(1);
    expect(probe()).toBe('authenticated:alice:-');
  });
});
