// "/topic/:id/": one topic with its replies (live), the reply form, and edit/delete for the author
// or staff.
import { useCallback, useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { canModify, del, get, listAll, post, put, upsertById } from '../api.js';
import { useAuth } from '../auth.jsx';
import { COMMENT_MAX, useBbsEvents, useCategories } from '../bbs.jsx';
import {
  CharCount,
  ConfirmButton,
  Empty,
  ErrorMessage,
  Field,
  Loading,
  Meta,
  PageTitle,
  splitErrors,
} from '../components.jsx';
import { useI18n } from '../i18n.jsx';
import { useAsync } from '../useAsync.js';

/** A reply form: new (onSubmit posts) or inline edit (initial text, onCancel). */
function ReplyForm({ initial = '', label, submitLabel, onSubmit, onCancel }) {
  const { t } = useI18n();
  const [comment, setComment] = useState(initial);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const { fieldErrors, general } = splitErrors(error, ['comment']);
  return (
    <form
      className="form"
      noValidate
      onSubmit={async (e) => {
        e.preventDefault();
        setBusy(true);
        setError(null);
        try {
          await onSubmit(comment);
          setComment('');
        } catch (err) {
          setError(err);
        } finally {
          setBusy(false);
        }
      }}
      onKeyDown={(e) => {
        if (e.key === 'Escape' && onCancel) onCancel();
      }}
    >
      <Field label={label} errors={fieldErrors.comment}>
        <textarea name="comment" rows={3} required autoFocus={Boolean(onCancel)} value={comment} onChange={(e) => setComment(e.target.value)} />
      </Field>
      <CharCount value={comment} max={COMMENT_MAX} />
      <ErrorMessage error={general} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('common.saving') : submitLabel}
        </button>
        {onCancel && (
          <button type="button" onClick={onCancel}>
            {t('common.cancel')}
          </button>
        )}
      </div>
    </form>
  );
}

function ReplyItem({ reply, user, onChanged, onDeleted }) {
  const { t } = useI18n();
  const [editing, setEditing] = useState(false);
  const mine = canModify(user, reply);
  return (
    <li className="card reply" id={`reply-${reply.id}`}>
      {editing ? (
        <ReplyForm
          initial={reply.comment}
          label={t('common.edit')}
          submitLabel={t('common.save')}
          onCancel={() => setEditing(false)}
          onSubmit={async (comment) => {
            const updated = await put(`/api/replies/${reply.id}/`, { topic: String(reply.topic), comment });
            onChanged(updated);
            setEditing(false);
          }}
        />
      ) : (
        <>
          <p className="body">{reply.comment}</p>
          <Meta row={reply} />
          {mine && (
            <div className="actions">
              <button type="button" onClick={() => setEditing(true)}>
                {t('common.edit')}
              </button>
              <ConfirmButton
                label={t('common.delete')}
                warning={t('bbs.deleteReplyWarning')}
                onConfirm={async () => {
                  await del(`/api/replies/${reply.id}/`);
                  onDeleted(reply.id);
                }}
              />
            </div>
          )}
        </>
      )}
    </li>
  );
}

export function TopicDetailPage() {
  const { id } = useParams();
  const { t } = useI18n();
  const { user } = useAuth();
  const navigate = useNavigate();
  const cats = useCategories();
  const [deleted, setDeleted] = useState(false);

  const topic = useAsync(() => get(`/api/topics/${encodeURIComponent(id)}/`), [id]);
  const replies = useAsync(() => listAll(`/api/topics/${encodeURIComponent(id)}/replies/`), [id]);

  const setTopic = topic.setData;
  const setReplies = replies.setData;
  const onEvent = useCallback(
    (ev) => {
      if (ev.type === 'reply.created' || ev.type === 'reply.updated') {
        if (String(ev.topic) !== String(id)) return;
        const { type, ...row } = ev;
        setReplies((list) => upsertById(list || [], row));
      } else if (ev.type === 'reply.deleted') {
        setReplies((list) => (list || []).filter((r) => r.id !== ev.id));
      } else if (ev.type === 'topic.updated' && String(ev.id) === String(id)) {
        const { type, ...row } = ev;
        setTopic(row);
      } else if (ev.type === 'topic.deleted' && String(ev.id) === String(id)) {
        setDeleted(true);
      }
    },
    [id, setReplies, setTopic],
  );
  useBbsEvents(onEvent);

  if (deleted) {
    return (
      <section>
        <PageTitle>{t('bbs.topicDeleted')}</PageTitle>
        <p>
          <Link to="/">{t('nav.bbs')}</Link>
        </p>
      </section>
    );
  }
  if (topic.error) {
    const notFound = topic.error.status === 404;
    return (
      <section>
        <PageTitle>{notFound ? t('bbs.topicNotFound') : t('error.title')}</PageTitle>
        {!notFound && <ErrorMessage error={topic.error} onRetry={topic.reload} />}
        <p>
          <Link to="/">{t('nav.bbs')}</Link>
        </p>
      </section>
    );
  }
  if (!topic.data) return <Loading />;
  const row = topic.data;
  const list = replies.data || [];

  return (
    <article className="topic-detail">
      <p>
        <Link to="/">← {t('nav.bbs')}</Link>
      </p>
      <div className="card topic">
        <p className="category-tag">{cats.nameOf(row.category) ?? t('bbs.noCategoryName')}</p>
        <PageTitle title={row.comment.slice(0, 40)}>
          <span className="topic-body">{row.comment}</span>
        </PageTitle>
        <Meta row={row} />
        {canModify(user, row) && (
          <div className="actions">
            <Link className="button" to={`/topic/edit/${row.id}/`}>
              {t('common.edit')}
            </Link>
            <ConfirmButton
              label={t('common.delete')}
              warning={t('bbs.deleteTopicWarning')}
              onConfirm={async () => {
                await del(`/api/topics/${row.id}/`);
                navigate('/', { replace: true });
              }}
            />
          </div>
        )}
      </div>

      <section aria-labelledby="replies-heading">
        <h2 id="replies-heading">
          {t('bbs.replies')} {replies.data ? `(${list.length})` : ''}
        </h2>
        <ErrorMessage error={replies.error} onRetry={replies.reload} />
        {replies.loading && !replies.data && <Loading />}
        {replies.data && list.length === 0 && <Empty>{t('bbs.noReplies')}</Empty>}
        {list.length > 0 && (
          <ol className="reply-list">
            {list.map((r) => (
              <ReplyItem
                key={r.id}
                reply={r}
                user={user}
                onChanged={(u) => setReplies((l) => upsertById(l || [], u))}
                onDeleted={(rid) => setReplies((l) => (l || []).filter((x) => x.id !== rid))}
              />
            ))}
          </ol>
        )}
        <div className="card">
          <ReplyForm
            label={t('bbs.replyLabel')}
            submitLabel={t('bbs.reply')}
            onSubmit={async (comment) => {
              const created = await post('/api/replies/', { topic: String(row.id), comment });
              setReplies((l) => upsertById(l || [], created));
            }}
          />
        </div>
      </section>
    </article>
  );
}
