// "/": the topic list (newest first) with search, category filter, pagination and live updates,
// the new-topic form and the category panel.
import { useCallback, useState } from 'react';
import { Link, useSearchParams } from 'react-router-dom';
import { canModify, del, getPage, post, upsertById } from '../api.js';
import { useAuth } from '../auth.jsx';
import { TopicForm, useBbsEvents, useCategories } from '../bbs.jsx';
import { ConfirmButton, Empty, ErrorMessage, Field, Loading, Meta, PageTitle, Pager, splitErrors } from '../components.jsx';
import { useI18n } from '../i18n.jsx';
import { useAsync } from '../useAsync.js';

const PAGE_SIZE = 20;

function SearchBox({ value, onSearch }) {
  const { t } = useI18n();
  const [text, setText] = useState(value);
  return (
    <form
      role="search"
      className="search"
      onSubmit={(e) => {
        e.preventDefault();
        onSearch(text.trim());
      }}
    >
      <label htmlFor="topic-search" className="visually-hidden">
        {t('bbs.search')}
      </label>
      <input
        id="topic-search"
        type="search"
        name="search"
        placeholder={t('bbs.search')}
        value={text}
        onChange={(e) => setText(e.target.value)}
      />
      <button type="submit">{t('bbs.searchButton')}</button>
      {value && (
        <button
          type="button"
          onClick={() => {
            setText('');
            onSearch('');
          }}
        >
          {t('bbs.clearSearch')}
        </button>
      )}
    </form>
  );
}

function CategoryPanel({ categories, user, onCreated, onDeleted }) {
  const { t } = useI18n();
  const [name, setName] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const { fieldErrors, general } = splitErrors(error, ['name']);

  const create = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const created = await post('/api/categories/', { name });
      setName('');
      onCreated(created);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section className="card category-panel" aria-labelledby="category-heading">
      <h2 id="category-heading">{t('bbs.categories')}</h2>
      {categories.length === 0 ? (
        <Empty>{t('bbs.noCategories')}</Empty>
      ) : (
        <ul className="category-list">
          {categories.map((c) => (
            <li key={c.id}>
              <span className="name">{c.name}</span>
              {canModify(user, c) && (
                <ConfirmButton
                  label={t('common.delete')}
                  warning={t('bbs.deleteCategoryWarning', { name: c.name })}
                  onConfirm={async () => {
                    await del(`/api/categories/${c.id}/`);
                    onDeleted(c);
                  }}
                />
              )}
            </li>
          ))}
        </ul>
      )}
      <form className="form inline" onSubmit={create} noValidate>
        <Field label={t('bbs.categoryName')} errors={fieldErrors.name}>
          <input name="name" required maxLength={100} value={name} onChange={(e) => setName(e.target.value)} />
        </Field>
        <button type="submit" disabled={busy}>
          {t('bbs.createCategory')}
        </button>
      </form>
      <ErrorMessage error={general} />
    </section>
  );
}

export function TopicListPage() {
  const { t } = useI18n();
  const { user } = useAuth();
  const [params, setParams] = useSearchParams();
  const page = Math.max(1, Number.parseInt(params.get('page') || '1', 10) || 1);
  const search = params.get('search') || '';
  const category = params.get('category') || '';
  const cats = useCategories();

  const topics = useAsync(async () => {
    const result = await getPage('/api/topics/', {
      page,
      page_size: PAGE_SIZE,
      search,
      category,
      ordering: '-id',
    });
    // A server that ignores ?ordering (or the seed stack) sends ascending ids.
    result.results = [...result.results].sort((a, b) => b.id - a.id);
    return result;
  }, [page, search, category]);

  const setQuery = (changes) => {
    const next = new URLSearchParams(params);
    for (const [k, v] of Object.entries(changes)) {
      if (v) next.set(k, String(v));
      else next.delete(k);
    }
    setParams(next);
  };

  // Live updates: new topics appear on the first page unless a search is active (the server's
  // matching rules decide membership there); edits and deletions apply wherever the row is shown.
  const { setData } = topics;
  const onEvent = useCallback(
    (ev) => {
      if (ev.type === 'topic.created') {
        if (search || page !== 1) return;
        if (category && String(ev.category) !== category) return;
        const { type, ...row } = ev;
        setData((d) => {
          if (!d || d.results.some((r) => r.id === row.id)) return d;
          const results = upsertById(d.results, row, true);
          return { ...d, count: d.count + 1, results: d.paginated ? results.slice(0, PAGE_SIZE) : results };
        });
      } else if (ev.type === 'topic.updated') {
        const { type, ...row } = ev;
        setData((d) =>
          d && d.results.some((r) => r.id === row.id)
            ? { ...d, results: d.results.map((r) => (r.id === row.id ? row : r)) }
            : d,
        );
      } else if (ev.type === 'topic.deleted') {
        setData((d) =>
          d && d.results.some((r) => r.id === ev.id)
            ? { ...d, count: d.count - 1, results: d.results.filter((r) => r.id !== ev.id) }
            : d,
        );
      }
    },
    [search, page, category, setData],
  );
  const live = useBbsEvents(onEvent);

  const onCreatedTopic = async ({ category: cat, comment }) => {
    const created = await post('/api/topics/', { category: cat, comment });
    onEvent({ type: 'topic.created', ...created });
  };

  const data = topics.data;
  return (
    <div className="bbs-layout">
      <section className="topics" aria-labelledby="topics-heading">
        <PageTitle title={t('bbs.title')}>
          <span id="topics-heading">{t('bbs.topics')}</span>
        </PageTitle>
        <div className="toolbar">
          <SearchBox key={search} value={search} onSearch={(q) => setQuery({ search: q, page: '' })} />
          <label className="filter">
            <span>{t('bbs.filterCategory')}</span>
            <select value={category} onChange={(e) => setQuery({ category: e.target.value, page: '' })}>
              <option value="">{t('bbs.allCategories')}</option>
              {cats.categories.map((c) => (
                <option key={c.id} value={String(c.id)}>
                  {c.name}
                </option>
              ))}
            </select>
          </label>
          <span className={`live-dot ${live.status}`} title={t(`conn.${live.status}`)}>
            <span className="visually-hidden">{t(`conn.${live.status}`)}</span>
          </span>
        </div>
        {search && data && !topics.loading && (
          <p className="status" role="status">
            {t('bbs.results', { q: search, n: data.count })}
          </p>
        )}
        <ErrorMessage error={topics.error} onRetry={topics.reload} />
        {topics.error?.status === 404 && page > 1 && (
          <button type="button" onClick={() => setQuery({ page: '' })}>
            {t('page.first')}
          </button>
        )}
        {topics.loading && !data && <Loading />}
        {data && data.results.length === 0 && !topics.loading && (
          <Empty>{search ? t('bbs.noResults', { q: search }) : t('bbs.noTopics')}</Empty>
        )}
        {data && data.results.length > 0 && (
          <ul className="topic-list" aria-busy={topics.loading}>
            {data.results.map((topic) => (
              <li key={topic.id} className="card topic-item">
                <p className="category-tag">{cats.nameOf(topic.category) ?? t('bbs.noCategoryName')}</p>
                <Link to={`/topic/${topic.id}/`} className="topic-link">
                  {topic.comment}
                </Link>
                <Meta row={topic} />
              </li>
            ))}
          </ul>
        )}
        {data?.paginated && (
          <Pager page={page} count={data.count} pageSize={PAGE_SIZE} onPage={(p) => setQuery({ page: p > 1 ? p : '' })} />
        )}
      </section>
      <aside className="side">
        <section className="card" aria-labelledby="new-topic-heading">
          <h2 id="new-topic-heading">{t('bbs.newTopic')}</h2>
          <ErrorMessage error={cats.error} onRetry={cats.reload} />
          <TopicForm
            categories={cats.categories}
            submitLabel={t('bbs.post')}
            busyLabel={t('bbs.posting')}
            onSubmit={onCreatedTopic}
            resetOnSuccess
          />
        </section>
        <CategoryPanel
          categories={cats.categories}
          user={user}
          onCreated={(c) => cats.setData((list) => upsertById(list || [], c))}
          onDeleted={(c) => {
            cats.setData((list) => (list || []).filter((x) => x.id !== c.id));
            topics.reload();
          }}
        />
      </aside>
    </div>
  );
}
