// "/rooms/:id": one chat room. History comes from GET /api/rooms/<id>/chatlogs/, then the socket
// opens with ?after=<last id> so nothing falls between the two (§6.6); every reconnect resumes the
// same way from the highest id received. Presence frames carry the live headcount (§6.3).
import { useCallback, useEffect, useLayoutEffect, useRef, useState } from 'react';
import { Link, useParams } from 'react-router-dom';
import { get, listAll, mergeById, upsertById } from '../api.js';
import { useAuth } from '../auth.jsx';
import { CharCount, Empty, ErrorMessage, Field, Loading, PageTitle } from '../components.jsx';
import { useI18n } from '../i18n.jsx';
import { useAsync } from '../useAsync.js';
import { useSocket } from '../useSocket.js';

const MESSAGE_MAX = 200;

function MessageForm({ disabled, onSend }) {
  const { t } = useI18n();
  const [text, setText] = useState('');
  return (
    <form
      className="form message-form"
      noValidate
      onSubmit={(e) => {
        e.preventDefault();
        if (!text.trim()) return;
        if (onSend(text)) setText('');
      }}
    >
      <Field label={t('chat.message')}>
        <input name="message" autoComplete="off" disabled={disabled} value={text} onChange={(e) => setText(e.target.value)} />
      </Field>
      <CharCount value={text} max={MESSAGE_MAX} />
      <button type="submit" className="primary" disabled={disabled || !text.trim() || [...text.trim()].length > MESSAGE_MAX}>
        {t('chat.send')}
      </button>
    </form>
  );
}

export function RoomPage() {
  const { id } = useParams();
  const { t } = useI18n();
  const { user } = useAuth();
  const room = useAsync(() => get(`/api/rooms/${encodeURIComponent(id)}/`), [id]);
  const history = useAsync(() => listAll(`/api/rooms/${encodeURIComponent(id)}/chatlogs/`), [id]);
  const [messages, setMessages] = useState([]);
  const [headcount, setHeadcount] = useState(null);
  const [sendError, setSendError] = useState(null);
  const lastId = useRef(0);
  const logRef = useRef(null);

  // Merge the REST history once it arrives (ids are unique, so merging twice is harmless).
  // App.jsx remounts this page per room id, so no state carries over between rooms.
  useEffect(() => {
    if (!history.data) return;
    setMessages((list) => mergeById(list, history.data));
    for (const m of history.data) lastId.current = Math.max(lastId.current, m.id);
  }, [history.data]);

  const onFrame = useCallback((frame) => {
    if (frame.type === 'message' || (frame.type === undefined && typeof frame.id === 'number')) {
      const { type, ...msg } = frame;
      lastId.current = Math.max(lastId.current, msg.id);
      setMessages((list) => upsertById(list, msg));
    } else if (frame.type === 'presence') {
      setHeadcount(frame.headcount);
    } else if (frame.type === 'error') {
      setSendError({ message: frame.detail || frame.code });
    }
  }, []);

  const onHandshakeFail = useCallback(async () => {
    try {
      await get(`/api/rooms/${encodeURIComponent(id)}/`);
      return true;
    } catch (err) {
      return err.status !== 404;
    }
  }, [id]);

  const ready = Boolean(room.data && history.data);
  const socket = useSocket(`/ws/chat/${encodeURIComponent(id)}/`, {
    enabled: ready,
    onFrame,
    onHandshakeFail,
    getQuery: () => ({ after: lastId.current }),
  });

  // Keep the newest message in view unless the reader scrolled up.
  const nearBottom = useRef(true);
  useLayoutEffect(() => {
    const el = logRef.current;
    if (el && nearBottom.current) el.scrollTop = el.scrollHeight;
  }, [messages]);

  if (room.error) {
    const notFound = room.error.status === 404;
    return (
      <section>
        <PageTitle>{notFound ? t('chat.roomNotFound') : t('error.title')}</PageTitle>
        {!notFound && <ErrorMessage error={room.error} onRetry={room.reload} />}
        <p>
          <Link to="/rooms">{t('chat.backToRooms')}</Link>
        </p>
      </section>
    );
  }
  if (!room.data) return <Loading />;

  const gone = socket.status === 'gone';
  const count = headcount ?? room.data.headcount;
  const send = (text) => {
    setSendError(null);
    if (socket.send({ type: 'message', message: text })) return true;
    setSendError({ code: 'notConnected' });
    return false;
  };

  return (
    <section className="room">
      <p>
        <Link to="/rooms">← {t('chat.backToRooms')}</Link>
      </p>
      <div className="room-head">
        <PageTitle>{room.data.name}</PageTitle>
        <span className="badge headcount" data-testid="headcount" aria-live="polite">
          {t('chat.headcount', { n: count })}
        </span>
        <span className={`conn ${socket.status}`} data-testid="conn-status" role="status">
          {t(`conn.${socket.status}`)}
        </span>
      </div>
      {gone && <ErrorMessage error={{ message: t('chat.gone') }} />}
      <ErrorMessage error={history.error} onRetry={history.reload} />
      <div
        className="chat-log card"
        ref={logRef}
        role="log"
        aria-label={t('chat.log')}
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          nearBottom.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
      >
        {history.loading && !history.data && <Loading />}
        {history.data && messages.length === 0 && <Empty>{t('chat.noMessages')}</Empty>}
        <ol className="messages">
          {messages.map((m) => {
            const mine = user && m.author && m.author.id === user.id;
            return (
              <li key={m.id} className={mine ? 'message mine' : 'message'} data-id={m.id}>
                <span className="author">
                  {m.author?.username ?? t('common.unknownAuthor')}
                  {mine && ` (${t('chat.you')})`}
                </span>
                <span className="text">{m.message}</span>
                <time>{m.created_at}</time>
              </li>
            );
          })}
        </ol>
      </div>
      <ErrorMessage error={sendError} />
      <MessageForm disabled={gone} onSend={send} />
    </section>
  );
}
