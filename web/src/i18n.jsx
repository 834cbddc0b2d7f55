// Japanese (default) and English UI texts, the language context and its toggle. Server messages
// (DRF's Japanese validation texts) are shown as the server sent them.
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';

const LANG_KEY = 'lang';

const messages = {
  ja: {
    'app.title': 'hiroba 広場',
    'app.skip': '本文へスキップ',
    'nav.bbs': '掲示板',
    'nav.rooms': 'チャット',
    'nav.login': 'ログイン',
    'nav.signup': '新規登録',
    'nav.logout': 'ログアウト',
    'nav.main': 'メインメニュー',
    'nav.user': '{name} さん',
    'lang.toggle': 'English',
    'lang.toggleLabel': 'Switch to English',
    'common.loading': '読み込み中…',
    'common.save': '保存',
    'common.saving': '保存中…',
    'common.cancel': 'キャンセル',
    'common.edit': '編集',
    'common.delete': '削除',
    'common.deleting': '削除中…',
    'common.confirmDelete': '削除する',
    'common.retry': '再試行',
    'common.back': '戻る',
    'common.by': '投稿者',
    'common.unknownAuthor': '(不明)',
    'common.required': '必須',
    'common.chars': '{n}/{max} 文字',
    'error.network': 'サーバに接続できません。ネットワークを確認してください。',
    'error.session_expired': 'セッションの有効期限が切れました。もう一度ログインしてください。',
    'error.bad_response': 'サーバから予期しない応答がありました。',
    'error.title': 'エラー',
    'error.forbidden': 'この操作を行う権限がありません。',
    'error.notConnected': 'まだ接続されていません。少し待ってからもう一度送信してください。',
    'error.notFound': 'ページが見つかりません。',
    'auth.loginTitle': 'ログイン',
    'auth.signupTitle': '新規登録',
    'auth.username': 'ユーザー名',
    'auth.email': 'メールアドレス(任意)',
    'auth.password': 'パスワード',
    'auth.passwordConfirm': 'パスワード(確認)',
    'auth.passwordHint': '8文字以上',
    'auth.loginButton': 'ログイン',
    'auth.loggingIn': 'ログイン中…',
    'auth.signupButton': '登録する',
    'auth.signingUp': '登録中…',
    'auth.noAccount': 'アカウントをお持ちでない方は',
    'auth.haveAccount': 'すでにアカウントをお持ちの方は',
    'auth.passwordMismatch': 'パスワードが一致していません',
    'bbs.title': '掲示板',
    'bbs.topics': 'トピック一覧',
    'bbs.newTopic': '新しいトピック',
    'bbs.category': 'カテゴリ',
    'bbs.allCategories': 'すべてのカテゴリ',
    'bbs.filterCategory': '絞り込み',
    'bbs.chooseCategory': 'カテゴリを選択',
    'bbs.comment': '本文',
    'bbs.post': '投稿する',
    'bbs.posting': '投稿中…',
    'bbs.noTopics': 'トピックはまだありません。',
    'bbs.noResults': '「{q}」に一致するトピックはありません。',
    'bbs.noCategories': 'カテゴリがありません。先にカテゴリを作成してください。',
    'bbs.search': 'トピックを検索',
    'bbs.searchButton': '検索',
    'bbs.clearSearch': 'クリア',
    'bbs.results': '「{q}」の検索結果: {n} 件',
    'bbs.replies': '返信',
    'bbs.noReplies': '返信はまだありません。',
    'bbs.reply': '返信する',
    'bbs.replyLabel': '返信の本文',
    'bbs.editTopic': 'トピックを編集',
    'bbs.deleteTopicWarning': 'このトピックとすべての返信を削除します。元に戻せません。',
    'bbs.deleteReplyWarning': 'この返信を削除します。元に戻せません。',
    'bbs.topicDeleted': 'このトピックは削除されました。',
    'bbs.topicNotFound': 'トピックが見つかりません。',
    'bbs.open': '開く',
    'bbs.live': '新しい投稿が反映されます',
    'bbs.updated': '(編集済み)',
    'bbs.categories': 'カテゴリ',
    'bbs.categoryName': 'カテゴリ名',
    'bbs.createCategory': '作成',
    'bbs.deleteCategoryWarning':
      'カテゴリ「{name}」を削除すると、このカテゴリのトピックとその返信もすべて削除されます。元に戻せません。',
    'bbs.noCategoryName': '(カテゴリなし)',
    'page.label': 'ページ送り',
    'page.prev': '前へ',
    'page.next': '次へ',
    'page.first': '最初のページへ',
    'page.status': '{page} / {pages} ページ(全 {count} 件)',
    'chat.title': 'チャットルーム',
    'chat.rooms': 'ルーム一覧',
    'chat.noRooms': 'ルームはまだありません。',
    'chat.newRoom': '新しいルーム',
    'chat.roomName': 'ルーム名',
    'chat.create': '作成',
    'chat.headcount': '参加者 {n} 人',
    'chat.close': 'ルームを閉じる',
    'chat.closeWarning': 'ルーム「{name}」を閉じると、会話の履歴もすべて削除されます。元に戻せません。',
    'chat.enter': '入室',
    'chat.message': 'メッセージ',
    'chat.send': '送信',
    'chat.noMessages': 'メッセージはまだありません。',
    'conn.connecting': '接続中…',
    'conn.open': '接続済み',
    'conn.reconnecting': '再接続中…',
    'conn.closed': '切断',
    'conn.gone': '切断',
    'chat.gone': 'このルームは閉じられました。',
    'chat.roomNotFound': 'ルームが見つかりません。',
    'chat.backToRooms': 'ルーム一覧へ',
    'chat.you': 'あなた',
    'chat.log': 'メッセージ履歴',
  },
  en: {
    'app.title': 'hiroba',
    'app.skip': 'Skip to content',
    'nav.bbs': 'Board',
    'nav.rooms': 'Chat',
    'nav.login': 'Log in',
    'nav.signup': 'Sign up',
    'nav.logout': 'Log out',
    'nav.main': 'Main menu',
    'nav.user': 'Signed in as {name}',
    'lang.toggle': '日本語',
    'lang.toggleLabel': '日本語に切り替える',
    'common.loading': 'Loading…',
    'common.save': 'Save',
    'common.saving': 'Saving…',
    'common.cancel': 'Cancel',
    'common.edit': 'Edit',
    'common.delete': 'Delete',
    'common.deleting': 'Deleting…',
    'common.confirmDelete': 'Yes, delete',
    'common.retry': 'Retry',
    'common.back': 'Back',
    'common.by': 'By',
    'common.unknownAuthor': '(unknown)',
    'common.required': 'required',
    'common.chars': '{n}/{max} characters',
    'error.network': 'Cannot reach the server. Check your connection.',
    'error.session_expired': 'Your session has expired. Please log in again.',
    'error.bad_response': 'The server sent an unexpected response.',
    'error.title': 'Error',
    'error.forbidden': 'You are not allowed to do this.',
    'error.notConnected': 'Not connected yet. Please wait a moment and send again.',
    'error.notFound': 'Page not found.',
    'auth.loginTitle': 'Log in',
    'auth.signupTitle': 'Sign up',
    'auth.username': 'User name',
    'auth.email': 'Email (optional)',
    'auth.password': 'Password',
    'auth.passwordConfirm': 'Password (again)',
    'auth.passwordHint': 'At least 8 characters',
    'auth.loginButton': 'Log in',
    'auth.loggingIn': 'Logging in…',
    'auth.signupButton': 'Create account',
    'auth.signingUp': 'Creating account…',
    'auth.noAccount': 'No account yet?',
    'auth.haveAccount': 'Already have an account?',
    'auth.passwordMismatch': 'The passwords do not match',
    'bbs.title': 'Board',
    'bbs.topics': 'Topics',
    'bbs.newTopic': 'New topic',
    'bbs.category': 'Category',
    'bbs.allCategories': 'All categories',
    'bbs.filterCategory': 'Filter',
    'bbs.chooseCategory': 'Choose a category',
    'bbs.comment': 'Text',
    'bbs.post': 'Post',
    'bbs.posting': 'Posting…',
    'bbs.noTopics': 'No topics yet.',
    'bbs.noResults': 'No topics match “{q}”.',
    'bbs.noCategories': 'There are no categories. Create one first.',
    'bbs.search': 'Search topics',
    'bbs.searchButton': 'Search',
    'bbs.clearSearch': 'Clear',
    'bbs.results': '{n} results for “{q}”',
    'bbs.replies': 'Replies',
    'bbs.noReplies': 'No replies yet.',
    'bbs.reply': 'Reply',
    'bbs.replyLabel': 'Your reply',
    'bbs.editTopic': 'Edit topic',
    'bbs.deleteTopicWarning': 'This deletes the topic and all its replies. It cannot be undone.',
    'bbs.deleteReplyWarning': 'This deletes the reply. It cannot be undone.',
    'bbs.topicDeleted': 'This topic was deleted.',
    'bbs.topicNotFound': 'Topic not found.',
    'bbs.open': 'Open',
    'bbs.live': 'New posts appear live',
    'bbs.updated': '(edited)',
    'bbs.categories': 'Categories',
    'bbs.categoryName': 'Category name',
    'bbs.createCategory': 'Create',
    'bbs.deleteCategoryWarning':
      'Deleting the category “{name}” also deletes all its topics and their replies. It cannot be undone.',
    'bbs.noCategoryName': '(no category)',
    'page.label': 'Pages',
    'page.prev': 'Previous',
    'page.next': 'Next',
    'page.first': 'Go to the first page',
    'page.status': 'Page {page} of {pages} ({count} in all)',
    'chat.title': 'Chat rooms',
    'chat.rooms': 'Rooms',
    'chat.noRooms': 'No rooms yet.',
    'chat.newRoom': 'New room',
    'chat.roomName': 'Room name',
    'chat.create': 'Create',
    'chat.headcount': '{n} here',
    'chat.close': 'Close room',
    'chat.closeWarning': 'Closing the room “{name}” deletes its whole history. It cannot be undone.',
    'chat.enter': 'Enter',
    'chat.message': 'Message',
    'chat.send': 'Send',
    'chat.noMessages': 'No messages yet.',
    'conn.connecting': 'Connecting…',
    'conn.open': 'Connected',
    'conn.reconnecting': 'Reconnecting…',
    'conn.closed': 'Disconnected',
    'conn.gone': 'Disconnected',
    'chat.gone': 'This room has been closed.',
    'chat.roomNotFound': 'Room not found.',
    'chat.backToRooms': 'Back to rooms',
    'chat.you': 'you',
    'chat.log': 'Messages',
  },
};

export const LANGUAGES = Object.keys(messages);

/** Looks a key up and fills {name} placeholders. Unknown keys come back as the key itself. */
export function translate(lang, key, params) {
  const text = messages[lang]?.[key] ?? messages.ja[key] ?? key;
  if (!params) return text;
  return text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
}

function initialLang() {
  try {
    const saved = localStorage.getItem(LANG_KEY);
    if (saved && messages[saved]) return saved;
  } catch {
    /* storage unavailable */
  }
  return 'ja';
}

const I18nContext = createContext({ lang: 'ja', t: (k, p) => translate('ja', k, p), setLang: () => {} });

export function I18nProvider({ children }) {
  const [lang, setLangState] = useState(initialLang);
  useEffect(() => {
    document.documentElement.lang = lang;
  }, [lang]);
  const setLang = useCallback((next) => {
    setLangState(next);
    try {
      localStorage.setItem(LANG_KEY, next);
    } catch {
      /* storage unavailable */
    }
  }, []);
  const value = useMemo(
    () => ({ lang, setLang, t: (key, params) => translate(lang, key, params) }),
    [lang, setLang],
  );
  return <I18nContext.Provider value={value}>{children}</I18nContext.Provider>;
}

/** {lang, setLang, t(key, params)} */
export function useI18n() {
  return useContext(I18nContext);
}
