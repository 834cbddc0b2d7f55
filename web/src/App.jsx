// Layout (header, navigation, language toggle) and the route table. Client routes match the seed
// SPA's: /, /topic/:id/, /topic/edit/:id/, /rooms, /rooms/:id, plus /login and /signup.
import { useEffect, useRef, useState } from 'react';
import { Link, NavLink, Route, Routes, useLocation, useNavigate, useParams } from 'react-router-dom';
import { RequireAuth, useAuth } from './auth.jsx';
import { useI18n } from './i18n.jsx';
import { LoginPage, SignupPage } from './pages/AuthPages.jsx';
import { TopicListPage } from './pages/TopicListPage.jsx';
import { TopicDetailPage } from './pages/TopicDetailPage.jsx';
import { TopicEditPage } from './pages/TopicEditPage.jsx';
import { RoomListPage } from './pages/RoomListPage.jsx';
import { RoomPage } from './pages/RoomPage.jsx';

function Header() {
  const { t, lang, setLang } = useI18n();
  const { status, user, logout } = useAuth();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);

  const onLogout = async () => {
    setBusy(true);
    try {
      await logout();
    } finally {
      setBusy(false);
      navigate('/login');
    }
  };

  return (
    <header className="site-header">
      <div className="bar">
        <Link to="/" className="brand">
          {t('app.title')}
        </Link>
        <nav aria-label={t('nav.main')} className="main-nav">
          {status === 'authenticated' && (
            <>
              <NavLink to="/" end>
                {t('nav.bbs')}
              </NavLink>
              <NavLink to="/rooms">{t('nav.rooms')}</NavLink>
            </>
          )}
          {status === 'anonymous' && (
            <>
              <NavLink to="/login">{t('nav.login')}</NavLink>
              <NavLink to="/signup">{t('nav.signup')}</NavLink>
            </>
          )}
        </nav>
        <div className="tools">
          {status === 'authenticated' && (
            <>
              {user?.username && (
                <span className="who" data-testid="current-user">
                  {t('nav.user', { name: user.username })}
                </span>
              )}
              <button type="button" onClick={onLogout} disabled={busy}>
                {t('nav.logout')}
              </button>
            </>
          )}
          <button
            type="button"
            className="lang"
            lang={lang === 'ja' ? 'en' : 'ja'}
            aria-label={t('lang.toggleLabel')}
            onClick={() => setLang(lang === 'ja' ? 'en' : 'ja')}
          >
            {t('lang.toggle')}
          </button>
        </div>
      </div>
    </header>
  );
}

function NotFound() {
  const { t } = useI18n();
  return (
    <section>
      <h1 tabIndex={-1}>{t('error.notFound')}</h1>
      <p>
        <Link to="/">{t('nav.bbs')}</Link>
      </p>
    </section>
  );
}

/** Moves focus to the new page's heading after client-side navigation, as a page load would. */
function useFocusOnNavigate(mainRef) {
  const location = useLocation();
  const first = useRef(true);
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return undefined;
    }
    const id = setTimeout(() => {
      const heading = mainRef.current?.querySelector('h1');
      if (heading && !mainRef.current.contains(document.activeElement)) heading.focus();
    }, 0);
    return () => clearTimeout(id);
  }, [location.pathname, mainRef]);
}

/** Remounts a page when its :id changes, so no state of one topic or room leaks into the next. */
function PerId({ page: Page }) {
  const { id } = useParams();
  return <Page key={id} />;
}

export default function App() {
  const { t } = useI18n();
  const mainRef = useRef(null);
  useFocusOnNavigate(mainRef);
  const guard = (el) => <RequireAuth>{el}</RequireAuth>;
  return (
    <>
      <a className="skip" href="#main">
        {t('app.skip')}
      </a>
      <Header />
      <main id="main" ref={mainRef} tabIndex={-1}>
        <Routes>
          <Route path="/" element={guard(<TopicListPage />)} />
          <Route path="/topic/:id" element={guard(<PerId page={TopicDetailPage} />)} />
          <Route path="/topic/edit/:id" element={guard(<PerId page={TopicEditPage} />)} />
          <Route path="/rooms" element={guard(<RoomListPage />)} />
          <Route path="/rooms/:id" element={guard(<PerId page={RoomPage} />)} />
          <Route path="/login" element={<LoginPage />} />
          <Route path="/signup" element={<SignupPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </main>
    </>
  );
}
