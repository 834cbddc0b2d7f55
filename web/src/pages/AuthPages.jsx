// Login and signup forms. Signup logs in right after a 201, as the seed SPA did (§3.7).
import { useState } from 'react';
import { Link, Navigate, useLocation, useNavigate } from 'react-router-dom';
import { useAuth } from '../auth.jsx';
import { ErrorMessage, Field, PageTitle, splitErrors } from '../components.jsx';
import { useI18n } from '../i18n.jsx';

/** Where to go after logging in: back to the page that asked, else the board. */
function useReturnTo() {
  const location = useLocation();
  const from = location.state?.from;
  return from ? `${from.pathname}${from.search || ''}` : '/';
}

export function LoginPage() {
  const { t } = useI18n();
  const { status, login, notice } = useAuth();
  const navigate = useNavigate();
  const returnTo = useReturnTo();
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);

  if (status === 'authenticated') return <Navigate to={returnTo} replace />;
  const { fieldErrors, general } = splitErrors(error, ['username', 'password']);

  const onSubmit = async (e) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await login(username, password);
      navigate(returnTo, { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="auth-page">
      <PageTitle>{t('auth.loginTitle')}</PageTitle>
      {notice && !error && <ErrorMessage error={{ code: notice }} />}
      <form onSubmit={onSubmit} className="card form" noValidate>
        <Field label={t('auth.username')} errors={fieldErrors.username}>
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onChange={(e) => setUsername(e.target.value)}
          />
        </Field>
        <Field label={t('auth.password')} errors={fieldErrors.password}>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </Field>
        <ErrorMessage error={general} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('auth.loggingIn') : t('auth.loginButton')}
        </button>
      </form>
      <p>
        {t('auth.noAccount')} <Link to="/signup">{t('nav.signup')}</Link>
      </p>
    </section>
  );
}

const SIGNUP_FIELDS = ['username', 'email', 'password', 'password_confirm'];

export function SignupPage() {
  const { t } = useI18n();
  const { status, signup } = useAuth();
  const navigate = useNavigate();
  const [form, setForm] = useState({ username: '', email: '', password: '', password_confirm: '' });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const [mismatch, setMismatch] = useState(false);

  if (status === 'authenticated' && !busy) return <Navigate to="/" replace />;
  const { fieldErrors, general } = splitErrors(error, SIGNUP_FIELDS);
  const confirmErrors = mismatch ? [t('auth.passwordMismatch')] : fieldErrors.password_confirm;
  const set = (key) => (e) => setForm((f) => ({ ...f, [key]: e.target.value }));

  const onSubmit = async (e) => {
    e.preventDefault();
    setError(null);
    if (form.password !== form.password_confirm) {
      setMismatch(true);
      return;
    }
    setMismatch(false);
    setBusy(true);
    try {
      await signup(form);
      navigate('/', { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  };

  return (
    <section className="auth-page">
      <PageTitle>{t('auth.signupTitle')}</PageTitle>
      <form onSubmit={onSubmit} className="card form" noValidate>
        <Field label={t('auth.username')} errors={fieldErrors.username}>
          <input name="username" autoComplete="username" required maxLength={150} value={form.username} onChange={set('username')} />
        </Field>
        <Field label={t('auth.email')} errors={fieldErrors.email}>
          <input name="email" type="email" autoComplete="email" value={form.email} onChange={set('email')} />
        </Field>
        <Field label={t('auth.password')} hint={t('auth.passwordHint')} errors={fieldErrors.password}>
          <input
            name="password"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={form.password}
            onChange={set('password')}
          />
        </Field>
        <Field label={t('auth.passwordConfirm')} errors={confirmErrors}>
          <input
            name="password_confirm"
            type="password"
            autoComplete="new-password"
            required
            minLength={8}
            value={form.password_confirm}
            onChange={set('password_confirm')}
          />
        </Field>
        <ErrorMessage error={general} />
        <button type="submit" className="primary" disabled={busy}>
          {busy ? t('auth.signingUp') : t('auth.signupButton')}
        </button>
      </form>
      <p>
        {t('auth.haveAccount')} <Link to="/login">{t('nav.login')}</Link>
      </p>
    </section>
  );
}
