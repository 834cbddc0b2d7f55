// "/topic/edit/:id/": edits a topic's category and text with PUT {id, category, comment}, as the
// seed SPA did (API.md §4.3). Only the author or staff get the form; the server enforces it too.
import { Link, useNavigate, useParams } from 'react-router-dom';
import { canModify, get, put } from '../api.js';
import { useAuth } from '../auth.jsx';
import { TopicForm, useCategories } from '../bbs.jsx';
import { ErrorMessage, Loading, PageTitle } from '../components.jsx';
import { useI18n } from '../i18n.jsx';
import { useAsync } from '../useAsync.js';

export function TopicEditPage() {
  const { id } = useParams();
  const { t } = useI18n();
  const { user } = useAuth();
  const navigate = useNavigate();
  const cats = useCategories();
  const topic = useAsync(() => get(`/api/topics/${encodeURIComponent(id)}/`), [id]);
  const back = `/topic/${encodeURIComponent(id)}/`;

  let body;
  if (topic.error) {
    body =
      topic.error.status === 404 ? (
        <p>{t('bbs.topicNotFound')}</p>
      ) : (
        <ErrorMessage error={topic.error} onRetry={topic.reload} />
      );
  } else if (!topic.data || cats.loading) {
    body = <Loading />;
  } else if (!canModify(user, topic.data)) {
    body = <ErrorMessage error={{ code: 'forbidden' }} />;
  } else {
    body = (
      <div className="card">
        <ErrorMessage error={cats.error} onRetry={cats.reload} />
        <TopicForm
          categories={cats.categories}
          initial={topic.data}
          submitLabel={t('common.save')}
          busyLabel={t('common.saving')}
          onSubmit={async ({ category, comment }) => {
            await put(`/api/topics/${topic.data.id}/`, { id: topic.data.id, category, comment });
            navigate(back);
          }}
        >
          <Link className="button" to={back}>
            {t('common.cancel')}
          </Link>
        </TopicForm>
      </div>
    );
  }

  return (
    <section className="topic-edit">
      <p>
        <Link to={back}>← {t('common.back')}</Link>
      </p>
      <PageTitle>{t('bbs.editTopic')}</PageTitle>
      {body}
    </section>
  );
}
