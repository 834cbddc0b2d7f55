// BBS pieces used by more than one page: the categories hook, the topic form (new and edit) and
// the /ws/bbs/ live-event hook (API.md §6.8).
import { useCallback, useState } from 'react';
import { listAll } from './api.js';
import { CharCount, ErrorMessage, Field, splitErrors } from './components.jsx';
import { useI18n } from './i18n.jsx';
import { useAsync } from './useAsync.js';
import { useSocket } from './useSocket.js';

export const COMMENT_MAX = 2000;

/** All categories, plus a name lookup by id. */
export function useCategories() {
  const state = useAsync(() => listAll('/api/categories/'), []);
  const categories = state.data || [];
  const nameOf = useCallback(
    (id) => categories.find((c) => String(c.id) === String(id))?.name ?? null,
    [categories],
  );
  return { ...state, categories, nameOf };
}

/** Category select + comment textarea. onSubmit({category, comment}) may throw an ApiError. */
export function TopicForm({ categories, initial, submitLabel, busyLabel, onSubmit, resetOnSuccess, children }) {
  const { t } = useI18n();
  const [category, setCategory] = useState(initial?.category != null ? String(initial.category) : '');
  const [comment, setComment] = useState(initial?.comment ?? '');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const { fieldErrors, general } = splitErrors(error, ['category', 'comment']);

  const submit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await onSubmit({ category, comment });
      if (resetOnSuccess) setComment('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form className="form" onSubmit={submit} noValidate>
      <Field label={t('bbs.category')} errors={fieldErrors.category}>
        <select name="category" required value={category} onChange={(e) => setCategory(e.target.value)}>
          <option value="">{t('bbs.chooseCategory')}</option>
          {categories.map((c) => (
            <option key={c.id} value={String(c.id)}>
              {c.name}
            </option>
          ))}
        </select>
      </Field>
      <Field label={t('bbs.comment')} errors={fieldErrors.comment}>
        <textarea name="comment" rows={4} required value={comment} onChange={(e) => setComment(e.target.value)} />
      </Field>
      <CharCount value={comment} max={COMMENT_MAX} />
      <ErrorMessage error={general} />
      <div className="actions">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? busyLabel : submitLabel}
        </button>
        {children}
      </div>
    </form>
  );
}

/** Subscribes to the live BBS stream; onEvent gets each typed frame (topic.*, reply.*). */
export function useBbsEvents(onEvent) {
  return useSocket('/ws/bbs/', { onFrame: onEvent });
}
