// The one auth context: who is logged in, login / signup / logout, and the keep-alive refresh that
// runs one minute before the access token expires (API.md §3.7). Token storage and the refresh
// request itself live in api.js; this module owns the React state and the timer.
import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from 'react';
import { Navigate, useLocation } from 'react-router-dom';
import * as api from './api.js';
import { Loading } from './components.jsx';

export const REFRESH_MARGIN_MS = 60_000;
const RETRY_MS = 15_000;

/**
 * Milliseconds from `now` until the access token should be refreshed: one minute before `exp`.
 * Past that moment (a short-lived token or a sleeping laptop) it is half the remaining lifetime, and
 * 0 once expired, so a refresh is never skipped and never loops.
 */
export function refreshDelay(accessToken, now = Date.now()) {
  const exp = api.tokenExpiryMs(accessToken);
  if (exp === null) return null;
  const delay = exp - REFRESH_MARGIN_MS - now;
  if (delay > 0) return delay;
  return Math.max(0, Math.floor((exp - now) / 2));
}

/** The user as far as the token tells, when /api/me/ cannot be reached. */
function userFromToken() {
  const payload = api.decodeJwt(api.tokens.access || '');
  if (!payload || payload.user_id === undefined) return null;
  return { id: Number(payload.user_id), username: null, email: '', is_staff: false };
}

const AuthContext = createContext(null);

export function AuthProvider({ children }) {
  const [state, setState] = useState(() => ({
    status: api.tokens.refresh ? 'loading' : 'anonymous',
    user: null,
    notice: null,
  }));
  const timer = useRef(null);
  const loadSeq = useRef(0);
  const userRef = useRef(null);
  userRef.current = state.user;

  const loadUser = useCallback(async () => {
    const seq = ++loadSeq.current;
    let user = null;
    try {
      user = await api.fetchMe();
    } catch (err) {
      if (!api.tokens.refresh) return; // the token listener already went anonymous
      if (err.status === 401) {
        api.tokens.clear('expired'); // e.g. the account was deactivated
        return;
      }
      // A server without /api/me/ or an unreachable one: keep the session on the token's word.
      user = userFromToken();
    }
    if (seq !== loadSeq.current) return;
    setState(user ? { status: 'authenticated', user, notice: null } : { status: 'anonymous', user: null, notice: null });
  }, []);

  // Refresh timer, rescheduled on every token change (including another tab's).
  const schedule = useCallback(() => {
    clearTimeout(timer.current);
    timer.current = null;
    if (!api.tokens.refresh) return;
    const delay = refreshDelay(api.tokens.access);
    const run = () => {
      timer.current = null;
      api.refreshTokens().catch((err) => {
        // A network failure keeps the session and tries again; a refusal cleared the tokens.
        if (err.code === 'network' && api.tokens.refresh) timer.current = setTimeout(run, RETRY_MS);
      });
    };
    timer.current = setTimeout(run, delay ?? 0);
  }, []);

  useEffect(() => {
    const unsubscribe = api.tokens.subscribe((reason) => {
      schedule();
      if (!api.tokens.refresh) {
        loadSeq.current++;
        setState({
          status: 'anonymous',
          user: null,
          notice: reason === 'expired' ? 'session_expired' : null,
        });
      } else if (reason === 'storage') {
        // Another tab rotated the pair (nothing to do) or logged in as someone (load that user).
        const payload = api.decodeJwt(api.tokens.access || '');
        if (!payload || String(payload.user_id) !== String(userRef.current?.id)) loadUser();
      }
    });
    schedule();
    if (api.tokens.refresh) loadUser();
    return () => {
      unsubscribe();
      clearTimeout(timer.current);
    };
  }, [schedule, loadUser]);

  const login = useCallback(
    async (username, password) => {
      await api.login(username, password);
      await loadUser();
    },
    [loadUser],
  );

  const signup = useCallback(
    async (fields) => {
      await api.register(fields);
      await login(fields.username, fields.password);
    },
    [login],
  );

  const logout = useCallback(async () => {
    await api.logout();
  }, []);

  const value = useMemo(
    () => ({ ...state, login, signup, logout }),
    [state, login, signup, logout],
  );
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

/** {status: 'loading'|'anonymous'|'authenticated', user, notice, login, signup, logout} */
export function useAuth() {
  const ctx = useContext(AuthContext);
  if (!ctx) throw new Error('useAuth must be used inside <AuthProvider>');
  return ctx;
}

/** Renders children for a logged-in user; otherwise sends the visitor to /login and back. */
export function RequireAuth({ children }) {
  const { status } = useAuth();
  const location = useLocation();
  if (status === 'loading') return <Loading />;
  if (status !== 'authenticated') return <Navigate to="/login" replace state={{ from: location }} />;
  return children;
}
