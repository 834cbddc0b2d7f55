// "/rooms": chat rooms with their headcount (polled while the page is visible), room creation,
// and closing (deleting) a room for its author or staff.
import { useEffect, useState } from 'react';
import { Link } from 'react-router-dom';
import { canModify, del, listAll, post, upsertById } from '../api.js';
import { useAuth } from '../auth.jsx';
import { ConfirmButton, Empty, ErrorMessage, Field, Loading, Meta, PageTitle, splitErrors } from '../components.jsx';
import { useI18n } from '../i18n.jsx';
import { useAsync } from '../useAsync.js';

const POLL_MS = 5000;

function NewRoomForm({ onCreated }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const { fieldErrors, general } = splitErrors(error, ['name']);
  return (
    <form
      className="form inline"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          const room = await post('/api/rooms/', { name });
          setName('');
          onCreated(room);
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
    >
      <Field label={t('chat.roomName')} errors={fieldErrors.name}>
        <input name="name" required maxLength={200} value={name} onChange={(e) => setName(e.target.value)} />
      </Field>
      <button type="submit" className="primary" disabled={busy}>
        {t('chat.create')}
      </button>
      <ErrorMessage error={general} />
    </form>
  );
}

export function RoomListPage() {
  const { t } = useI18n();
  const { user } = useAuth();
  const rooms = useAsync(() => listAll('/api/rooms/'), []);
  const { reload } = rooms;

  useEffect(() => {
    const id = setInterval(() => {
      if (document.visibilityState === 'visible') reload();
    }, POLL_MS);
    return () => clearInterval(id);
  }, [reload]);

  const list = rooms.data || [];
  return (
    <section className="rooms">
      <PageTitle>{t('chat.title')}</PageTitle>
      <section className="card" aria-labelledby="new-room-heading">
        <h2 id="new-room-heading">{t('chat.newRoom')}</h2>
        <NewRoomForm onCreated={(room) => rooms.setData((l) => upsertById(l || [], room))} />
      </section>
      <h2>{t('chat.rooms')}</h2>
      <ErrorMessage error={rooms.error} onRetry={reload} />
      {rooms.loading && !rooms.data && <Loading />}
      {rooms.data && list.length === 0 && <Empty>{t('chat.noRooms')}</Empty>}
      {list.length > 0 && (
        <ul className="room-list">
          {list.map((room) => (
            <li key={room.id} className="card room-item">
              <div className="room-main">
                <Link to={`/rooms/${room.id}`} className="room-link">
                  {room.name}
                </Link>
                <span className="badge headcount">{t('chat.headcount', { n: room.headcount })}</span>
              </div>
              <Meta row={room} />
              {canModify(user, room) && (
                <ConfirmButton
                  label={t('chat.close')}
                  warning={t('chat.closeWarning', { name: room.name })}
                  onConfirm={async () => {
                    await del(`/api/rooms/${room.id}/`);
                    rooms.setData((l) => (l || []).filter((r) => r.id !== room.id));
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
