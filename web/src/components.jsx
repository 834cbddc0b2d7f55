// Small shared UI pieces: loading/empty/error states, labelled form fields, the two-step delete
// confirmation, the pager and the author/time line. User text is always rendered as text.
import { cloneElement, useEffect, useId, useRef, useState } from 'react';
import { useI18n } from './i18n.jsx';

export function Loading({ label }) {
  const { t } = useI18n();
  return (
    <p className="status loading" role="status" aria-live="polite">
      {label || t('common.loading')}
    </p>
  );
}

export function Empty({ children }) {
  return <p className="status empty">{children}</p>;
}

/** Text for any thrown value: a translated client-side code, else the server's own message. */
export function useErrorText() {
  const { t } = useI18n();
  return (error) => {
    if (!error) return '';
    if (error.code) return t(`error.${error.code}`);
    return error.message || String(error);
  };
}

/** An error shown to the user (role=alert so screen readers announce it), with optional retry. */
export function ErrorMessage({ error, onRetry }) {
  const { t } = useI18n();
  const text = useErrorText()(error);
  if (!error) return null;
  return (
    <div className="error" role="alert">
      <p>{text}</p>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          {t('common.retry')}
        </button>
      )}
    </div>
  );
}

/** Splits an ApiError into per-field messages and a general one (non-field or non-validation). */
export function splitErrors(error, fields) {
  if (!error) return { fieldErrors: {}, general: null };
  const all = error.fieldErrors || {};
  const fieldErrors = {};
  let hasOther = false;
  for (const [key, msgs] of Object.entries(all)) {
    if (fields.includes(key)) fieldErrors[key] = msgs;
    else hasOther = true;
  }
  const general = Object.keys(fieldErrors).length && !hasOther ? null : error;
  return { fieldErrors, general };
}

/**
 * A label, one input/select/textarea (passed as the only child), a hint and field errors, wired
 * together with id, aria-describedby and aria-invalid.
 */
export function Field({ label, errors, hint, children }) {
  const id = useId();
  const hintId = hint ? `${id}-hint` : undefined;
  const errId = errors && errors.length ? `${id}-err` : undefined;
  const describedBy = [hintId, errId].filter(Boolean).join(' ') || undefined;
  return (
    <div className={`field${errId ? ' has-error' : ''}`}>
      <label htmlFor={id}>{label}</label>
      {cloneElement(children, {
        id,
        'aria-describedby': describedBy,
        'aria-invalid': errId ? true : undefined,
      })}
      {hint && (
        <small id={hintId} className="hint">
          {hint}
        </small>
      )}
      {errId && (
        <ul id={errId} className="field-errors">
          {errors.map((msg, i) => (
            <li key={i}>{msg}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * A delete button that asks first: the warning and a confirm button appear in place, focus moves to
 * the confirm button, Escape or Cancel goes back. onConfirm may throw; the error is shown here.
 */
export function ConfirmButton({ label, warning, confirmLabel, onConfirm, className = '' }) {
  const { t } = useI18n();
  const [asking, setAsking] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  const confirmRef = useRef(null);
  const triggerRef = useRef(null);
  const wasAsking = useRef(false);
  const warnId = useId();

  useEffect(() => {
    if (asking) confirmRef.current?.focus();
    else if (wasAsking.current) triggerRef.current?.focus();
    wasAsking.current = asking;
  }, [asking]);

  const cancel = () => {
    setAsking(false);
    setError(null);
  };

  if (!asking) {
    return (
      <button type="button" ref={triggerRef} className={`danger-outline ${className}`} onClick={() => setAsking(true)}>
        {label}
      </button>
    );
  }
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-describedby={warnId}
      aria-label={label}
      onKeyDown={(e) => {
        if (e.key === 'Escape') cancel();
      }}
    >
      <p id={warnId}>{warning}</p>
      <div className="actions">
        <button
          type="button"
          ref={confirmRef}
          className="danger"
          disabled={busy}
          onClick={async () => {
            setBusy(true);
            setError(null);
            try {
              await onConfirm();
            } catch (err) {
              setError(err);
              setBusy(false);
            }
          }}
        >
          {busy ? t('common.deleting') : confirmLabel || t('common.confirmDelete')}
        </button>
        <button type="button" onClick={cancel} disabled={busy}>
          {t('common.cancel')}
        </button>
      </div>
      <ErrorMessage error={error} />
    </div>
  );
}

/** Previous / next navigation for a paginated list. Renders nothing for a single page. */
export function Pager({ page, count, pageSize, onPage }) {
  const { t } = useI18n();
  const pages = Math.max(1, Math.ceil(count / pageSize));
  if (pages <= 1) return null;
  return (
    <nav className="pager" aria-label={t('page.label')}>
      <button type="button" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        {t('page.prev')}
      </button>
      <span aria-live="polite">{t('page.status', { page, pages, count })}</span>
      <button type="button" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        {t('page.next')}
      </button>
    </nav>
  );
}

/** "author · time" under a post. created_at is already the server's display string (§2.6). */
export function Meta({ row, children }) {
  const { t } = useI18n();
  return (
    <p className="meta">
      <span className="author">{row.author?.username ?? t('common.unknownAuthor')}</span>
      {row.created_at && <time>{row.created_at}</time>}
      {children}
    </p>
  );
}

/** A textarea/input character counter in code points, as the server counts (§2.4). */
export function CharCount({ value, max }) {
  const { t } = useI18n();
  const n = [...value].length;
  return (
    <small className={`count${n > max ? ' over' : ''}`}>
      {t('common.chars', { n, max })}
    </small>
  );
}

/** The page's h1 (focusable, so navigation can move focus to it) and the document title. */
export function PageTitle({ children, title }) {
  const { t } = useI18n();
  const text = title ?? (typeof children === 'string' ? children : '');
  useEffect(() => {
    document.title = text ? `${text} | ${t('app.title')}` : t('app.title');
  }, [text, t]);
  return <h1 tabIndex={-1}>{children}</h1>;
}
