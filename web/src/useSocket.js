// The one WebSocket hook: connects to a same-origin /ws/ path in the "hiroba.v1" subprotocol mode
// (API.md §6.2), passes each JSON frame to onFrame, and reconnects with backoff after a drop. The
// access token travels as a subprotocol entry, never in the URL. getQuery() is read at every
// (re)connect, which is how the chat page resumes with ?after=<last id> (§6.6).
import { useCallback, useEffect, useRef, useState } from 'react';
import { ensureAccess, tokens, wsUrl } from './api.js';

export const SUBPROTOCOL = 'hiroba.v1';
const BASE_DELAY_MS = 500;
const MAX_DELAY_MS = 10_000;
// Close codes after which reconnecting cannot help.
const FINAL_CODES = new Set([4404]);

/**
 * status: 'connecting' (first attempt), 'open', 'reconnecting' (after a drop or a failed attempt),
 * 'gone' (the server closed with 4404, or onHandshakeFail returned false), 'closed' (logged out).
 * Options: onFrame(frame), getQuery() -> query object, onHandshakeFail() -> Promise<boolean>
 * (false stops retrying), enabled.
 */
export function useSocket(path, { onFrame, getQuery, onHandshakeFail, enabled = true } = {}) {
  const [status, setStatus] = useState('connecting');
  const socketRef = useRef(null);
  const handlers = useRef({});
  handlers.current = { onFrame, getQuery, onHandshakeFail };

  useEffect(() => {
    if (!enabled || !path) return undefined;
    let stopped = false;
    let attempt = 0;
    let everOpened = false;
    let timer = null;
    let ws = null;

    const retry = () => {
      if (stopped) return;
      setStatus(everOpened ? 'reconnecting' : attempt === 0 ? 'connecting' : 'reconnecting');
      const delay = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt) * (0.75 + Math.random() * 0.5);
      attempt += 1;
      timer = setTimeout(connect, delay);
    };

    async function connect() {
      timer = null;
      let token = null;
      try {
        token = await ensureAccess();
      } catch {
        token = null;
      }
      if (stopped) return;
      if (!token) {
        if (!tokens.refresh) setStatus('closed');
        else retry(); // network trouble while refreshing
        return;
      }
      let opened = false;
      try {
        ws = new WebSocket(wsUrl(path, handlers.current.getQuery?.()), [SUBPROTOCOL, token]);
      } catch {
        retry();
        return;
      }
      const sock = ws;
      socketRef.current = sock;
      sock.onopen = () => {
        opened = true;
        everOpened = true;
        attempt = 0;
        setStatus('open');
      };
      sock.onmessage = (event) => {
        if (typeof event.data !== 'string') return;
        let frame;
        try {
          frame = JSON.parse(event.data);
        } catch {
          return;
        }
        if (frame && typeof frame === 'object') handlers.current.onFrame?.(frame);
      };
      sock.onclose = async (event) => {
        if (socketRef.current === sock) socketRef.current = null;
        if (stopped) return;
        if (FINAL_CODES.has(event.code)) {
          stopped = true;
          setStatus('gone');
          return;
        }
        if (!opened && handlers.current.onHandshakeFail) {
          // Refused before the upgrade (HTTP 403): an expired token retries, a deleted room stops.
          let keepTrying = true;
          try {
            keepTrying = await handlers.current.onHandshakeFail();
          } catch {
            keepTrying = true;
          }
          if (stopped) return;
          if (!keepTrying) {
            stopped = true;
            setStatus('gone');
            return;
          }
        }
        retry();
      };
    }

    const wake = () => {
      // Back online: try at once instead of waiting out the backoff.
      if (timer && !stopped) {
        clearTimeout(timer);
        attempt = 0;
        connect();
      }
    };

    setStatus('connecting');
    connect();
    window.addEventListener('online', wake);
    return () => {
      stopped = true;
      clearTimeout(timer);
      window.removeEventListener('online', wake);
      if (ws) {
        ws.onopen = ws.onmessage = ws.onclose = null;
        if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      }
      socketRef.current = null;
    };
  }, [path, enabled]);

  /** Sends a JSON frame; false when the socket is not open. */
  const send = useCallback((frame) => {
    const ws = socketRef.current;
    if (!ws || ws.readyState !== WebSocket.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }, []);

  return { status, send };
}
