import { act, cleanup, render } from '@testing-library/react';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import * as api from '../src/api.js';
import { SUBPROTOCOL, useSocket } from '../src/useSocket.js';
import { makeJwt } from './helpers.js';

class FakeWebSocket {
  static CONNECTING = 0;
  static OPEN = 1;
  static CLOSING = 2;
  static CLOSED = 3;
  static all = [];
  constructor(url, protocols) {
    this.url = url;
    this.protocols = protocols;
    this.readyState = FakeWebSocket.CONNECTING;
    this.sent = [];
    FakeWebSocket.all.push(this);
  }
  send(text) {
    this.sent.push(JSON.parse(text));
  }
  close(code = 1000) {
    this.readyState = FakeWebSocket.CLOSED;
    this.closedWith = code;
  }
  // Test controls
  open() {
    this.readyState = FakeWebSocket.OPEN;
    this.onopen?.({});
  }
  frame(obj) {
    this.onmessage?.({ data: JSON.stringify(obj) });
  }
  drop(code = 1006) {
    this.readyState = FakeWebSocket.CLOSED;
    this.onclose?.({ code });
  }
}

let hook;
function Harness({ path, options }) {
  hook = useSocket(path, options);
  return null;
}

const last = () => FakeWebSocket.all[FakeWebSocket.all.length - 1];

beforeEach(() => {
  localStorage.clear();
  FakeWebSocket.all = [];
  vi.stubGlobal('WebSocket', FakeWebSocket);
  vi.useFakeTimers();
  api.tokens.set({ access: makeJwt({ ttl: 120 }), refresh: makeJwt({ type: 'refresh' }) });
});
afterEach(() => {
  cleanup();
  vi.useRealTimers();
  vi.unstubAllGlobals();
});

describe('useSocket', () => {
  it('offers hiroba.v1 and the token as subprotocols, never in the URL', async () => {
    render(<Harness path="/ws/bbs/" options={{}} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    const ws = last();
    expect(ws.protocols).toEqual([SUBPROTOCOL, api.tokens.access]);
    expect(ws.url).toBe(`ws://${location.host}/ws/bbs/`);
    expect(hook.status).toBe('connecting');
    act(() => ws.open());
    expect(hook.status).toBe('open');
  });

  it('delivers frames, sends JSON, and resumes with the latest ?after after a drop', async () => {
    let lastId = 4;
    const frames = [];
    const options = {
      onFrame: (f) => {
        frames.push(f);
        if (f.type === 'message') lastId = f.id;
      },
      getQuery: () => ({ after: lastId }),
    };
    render(<Harness path="/ws/chat/1/" options={options} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    const first = last();
    expect(first.url).toMatch(/\/ws\/chat\/1\/\?after=4$/);
    act(() => first.open());
    act(() => first.frame({ type: 'message', id: 9, message: 'やあ' }));
    expect(frames).toEqual([{ type: 'message', id: 9, message: 'やあ' }]);
    expect(hook.send({ type: 'message', message: 'hi' })).toBe(true);
    expect(first.sent).toEqual([{ type: 'message', message: 'hi' }]);

    act(() => first.drop(1006));
    expect(hook.status).toBe('reconnecting');
    expect(hook.send({ message: 'x' })).toBe(false);
    await act(() => vi.advanceTimersByTimeAsync(1000));
    const second = last();
    expect(second).not.toBe(first);
    expect(second.url).toMatch(/\?after=9$/);
    act(() => second.open());
    expect(hook.status).toBe('open');
  });

  it('backs off between failed attempts', async () => {
    render(<Harness path="/ws/bbs/" options={{}} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => last().drop(1006)); // handshake refused
    await act(() => vi.advanceTimersByTimeAsync(700));
    expect(FakeWebSocket.all).toHaveLength(2);
    act(() => last().drop(1006));
    await act(() => vi.advanceTimersByTimeAsync(700));
    expect(FakeWebSocket.all).toHaveLength(2); // second delay is ~1 s
    await act(() => vi.advanceTimersByTimeAsync(700));
    expect(FakeWebSocket.all).toHaveLength(3);
  });

  it('stops on 4404 (room deleted)', async () => {
    render(<Harness path="/ws/chat/1/" options={{}} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    act(() => last().open());
    act(() => last().drop(4404));
    expect(hook.status).toBe('gone');
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(FakeWebSocket.all).toHaveLength(1);
  });

  it('stops when onHandshakeFail says the target is gone', async () => {
    const onHandshakeFail = vi.fn(async () => false);
    render(<Harness path="/ws/chat/1/" options={{ onHandshakeFail }} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    await act(async () => last().drop(1006));
    expect(onHandshakeFail).toHaveBeenCalledTimes(1);
    expect(hook.status).toBe('gone');
  });

  it('closes the socket on unmount and does not reconnect', async () => {
    const { unmount } = render(<Harness path="/ws/bbs/" options={{}} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    const ws = last();
    act(() => ws.open());
    unmount();
    expect(ws.closedWith).toBe(1000);
    await act(() => vi.advanceTimersByTimeAsync(60_000));
    expect(FakeWebSocket.all).toHaveLength(1);
  });

  it('reports closed when logged out', async () => {
    api.tokens.clear();
    render(<Harness path="/ws/bbs/" options={{}} />);
    await act(() => vi.advanceTimersByTimeAsync(0));
    expect(hook.status).toBe('closed');
    expect(FakeWebSocket.all).toHaveLength(0);
  });
});
