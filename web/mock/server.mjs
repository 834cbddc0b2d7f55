#!/usr/bin/env node
// A small in-memory stand-in for the hiroba server, for developing and checking the SPA before or
// without the C binary. It follows API.md for what the SPA uses (JWT login/refresh/rotation/
// blacklist, /api/me/, categories, topics with search/ordering/pagination, replies, rooms, chat
// logs with ?after, /ws/chat/ v1 + seed modes with presence and resume, /ws/bbs/, SPA serving with
// the production CSP). It is NOT the contract and not a test oracle: the C server is.
//
//   node mock/server.mjs serve --listen 127.0.0.1:8000 --static-dir dist [--database ignored]
//   node mock/server.mjs migrate ...   (no-op, so tests/browser/run.mjs can use it as HIROBA_BIN)
// Env: MOCK_ACCESS_TTL (seconds, default 120), MOCK_PAGE_SIZE (paginate every list when set).
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { WebSocketServer } = require('ws');

const argv = process.argv.slice(2);
const command = argv[0] || 'serve';
if (command === 'migrate') process.exit(0);
if (command !== 'serve') {
  console.error(`mock: unknown command '${command}'`);
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : dflt;
};
const [HOST, PORT] = opt('listen', '127.0.0.1:8000').split(':');
const STATIC_DIR = path.resolve(opt('static-dir', path.join(path.dirname(new URL(import.meta.url).pathname), '../dist')));
const ACCESS_TTL = Number(process.env.MOCK_ACCESS_TTL || 120);
const REFRESH_TTL = 7 * 24 * 3600;
const DEFAULT_PAGE_SIZE = process.env.MOCK_PAGE_SIZE ? Number(process.env.MOCK_PAGE_SIZE) : null;
const SECRET = crypto.randomBytes(32);
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self' ws: wss:; " +
  "font-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

// ---- data --------------------------------------------------------------------------------------
const db = { users: [], categories: [], topics: [], replies: [], rooms: [], chatlogs: [], seq: {} };
const blacklist = new Set();
const nextId = (t) => (db.seq[t] = (db.seq[t] || 0) + 1);
const pad = (n) => String(n).padStart(2, '0');
function displayNow() {
  const d = new Date(Date.now() + 9 * 3600 * 1000); // Asia/Tokyo
  return `${d.getUTCFullYear()}年${pad(d.getUTCMonth() + 1)}月${pad(d.getUTCDate())}日 ${pad(d.getUTCHours())}時${pad(d.getUTCMinutes())}分${pad(d.getUTCSeconds())}秒`;
}
const authorOf = (row) => {
  const u = db.users.find((x) => x.id === row.author_id);
  return u ? { id: u.id, username: u.username } : null;
};
const out = {
  category: (c) => ({ id: c.id, name: c.name, author: authorOf(c) }),
  topic: (t) => ({ id: t.id, category: t.category, created_at: t.created_at, comment: t.comment, author: authorOf(t) }),
  reply: (r) => ({ id: r.id, topic: r.topic, created_at: r.created_at, comment: r.comment, author: authorOf(r) }),
  room: (r) => ({ id: r.id, created_at: r.created_at, name: r.name, headcount: r.headcount, author: authorOf(r) }),
  chatlog: (m) => ({ id: m.id, created_at: m.created_at, message: m.message, room: m.room, author: authorOf(m) }),
};

// ---- JWT ---------------------------------------------------------------------------------------
const b64u = (buf) => Buffer.from(buf).toString('base64url');
function sign(payload) {
  const head = b64u(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
  const body = b64u(JSON.stringify(payload));
  const sig = b64u(crypto.createHmac('sha256', SECRET).update(`${head}.${body}`).digest());
  return `${head}.${body}.${sig}`;
}
function verify(token, type) {
  const parts = String(token || '').split('.');
  if (parts.length !== 3) return { error: 'Token is invalid or expired' };
  const sig = b64u(crypto.createHmac('sha256', SECRET).update(`${parts[0]}.${parts[1]}`).digest());
  if (sig !== parts[2]) return { error: 'Token is invalid or expired' };
  let p;
  try {
    p = JSON.parse(Buffer.from(parts[1], 'base64url').toString());
  } catch {
    return { error: 'Token is invalid or expired' };
  }
  if (!(p.exp > Date.now() / 1000)) return { error: 'Token is invalid or expired' };
  if (type === 'refresh' && blacklist.has(p.jti)) return { error: 'Token is blacklisted' };
  if (p.token_type !== type) return { error: 'Token has wrong type' };
  return { payload: p };
}
function pair(userId, iat = Math.floor(Date.now() / 1000)) {
  const now = Math.floor(Date.now() / 1000);
  const jti = () => crypto.randomBytes(16).toString('hex');
  return {
    refresh: sign({ token_type: 'refresh', exp: now + REFRESH_TTL, iat: now, jti: jti(), user_id: userId }),
    access: sign({ token_type: 'access', exp: now + ACCESS_TTL, iat, jti: jti(), user_id: userId }),
  };
}
function userFromAuth(header) {
  const words = String(header || '').trim().split(/\s+/);
  if (words[0] !== 'Bearer') return { none: true };
  const v = verify(words[1], 'access');
  if (v.error) return { error: v.error };
  const user = db.users.find((u) => u.id === v.payload.user_id);
  return user ? { user } : { error: 'User not found' };
}

// ---- HTTP helpers ------------------------------------------------------------------------------
function send(res, status, body, headers = {}) {
  const base = {
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Referrer-Policy': 'same-origin',
    ...headers,
  };
  if (body === undefined) {
    res.writeHead(status, base);
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { ...base, 'Content-Type': 'application/json' });
  res.end(text);
}
const readJson = (req) =>
  new Promise((resolve) => {
    let data = '';
    req.on('data', (c) => (data += c));
    req.on('end', () => {
      if (!data) return resolve({});
      try {
        resolve(JSON.parse(data));
      } catch {
        resolve(null);
      }
    });
  });
const str = (v) => (typeof v === 'number' ? String(v) : typeof v === 'string' ? v.trim() : null);
function checkStr(errors, body, key, max, { required = true, min = 1 } = {}) {
  if (!(key in body)) {
    if (required) errors[key] = ['この項目は必須です。'];
    return undefined;
  }
  const v = str(body[key]);
  if (v === null) errors[key] = [body[key] === null ? 'この項目はnullにできません。' : 'Not a valid string.'];
  else if (!v && min > 0) errors[key] = ['この項目は空にできません。'];
  else if ([...v].length > max) errors[key] = [`この項目が${max}文字より長くならないようにしてください。`];
  else if ([...v].length < min) errors[key] = [`この項目は少なくとも${min}文字以上にしてください。`];
  return v;
}
function paginate(req, url, rows) {
  const q = url.searchParams;
  if (!q.has('page') && !q.has('page_size') && !DEFAULT_PAGE_SIZE) return rows;
  let size = Number.parseInt(q.get('page_size'), 10);
  if (!(size > 0)) size = DEFAULT_PAGE_SIZE || 10;
  size = Math.min(size, 100);
  const pages = Math.max(1, Math.ceil(rows.length / size));
  const p = q.get('page') === 'last' ? pages : q.has('page') ? Number(q.get('page')) : 1;
  if (!Number.isInteger(p) || p < 1 || p > pages) return { status: 404, body: { detail: '不正なページです。' } };
  const link = (n) => {
    const u = new URL(url.href);
    if (n === 1) u.searchParams.delete('page');
    else u.searchParams.set('page', String(n));
    u.searchParams.sort();
    return `http://${req.headers.host}${u.pathname}${u.search}`;
  };
  return {
    count: rows.length,
    next: p < pages ? link(p + 1) : null,
    previous: p > 1 ? link(p - 1) : null,
    results: rows.slice((p - 1) * size, p * size),
  };
}

// ---- live streams ------------------------------------------------------------------------------
const bbsSockets = new Set();
const roomSockets = new Map(); // room id -> Set of {ws, v1}
function bbsEvent(frame) {
  const text = JSON.stringify(frame);
  for (const ws of bbsSockets) ws.send(text);
}
function chatFrame(m, v1) {
  return JSON.stringify(
    v1 ? { type: 'message', ...out.chatlog(m) } : { id: m.id, message: m.message, created_at: m.created_at },
  );
}
function presence(roomId) {
  const room = db.rooms.find((r) => r.id === roomId);
  const set = roomSockets.get(roomId);
  if (!room || !set) return;
  for (const s of set) if (s.v1) s.ws.send(JSON.stringify({ type: 'presence', headcount: room.headcount }));
}

// ---- REST routes -------------------------------------------------------------------------------
const collections = {
  categories: {
    rows: () => db.categories,
    out: out.category,
    validate(body, errors) {
      const name = checkStr(errors, body, 'name', 100);
      return { name };
    },
  },
  topics: {
    rows: () => db.topics,
    out: out.topic,
    event: 'topic',
    validate(body, errors, partial) {
      const v = {};
      if ('category' in body || !partial) {
        const c = body.category;
        if (c === undefined) errors.category = ['この項目は必須です。'];
        else if (!db.categories.some((x) => String(x.id) === String(c)))
          errors.category = [`主キー "${c}" は不正です - データが存在しません。`];
        else v.category = Number(c);
      }
      if ('comment' in body || !partial) v.comment = checkStr(errors, body, 'comment', 2000);
      return v;
    },
  },
  replies: {
    rows: () => db.replies,
    out: out.reply,
    event: 'reply',
    validate(body, errors, partial) {
      const v = {};
      if ('topic' in body || !partial) {
        const t = body.topic;
        if (t === undefined) errors.topic = ['この項目は必須です。'];
        else if (!db.topics.some((x) => String(x.id) === String(t)))
          errors.topic = [`主キー "${t}" は不正です - データが存在しません。`];
        else v.topic = Number(t);
      }
      if ('comment' in body || !partial) v.comment = checkStr(errors, body, 'comment', 2000);
      return v;
    },
  },
  rooms: {
    rows: () => db.rooms,
    out: out.room,
    validate(body, errors, partial, self) {
      const v = {};
      if ('name' in body || !partial) {
        v.name = checkStr(errors, body, 'name', 200);
        if (v.name && db.rooms.some((r) => r.name === v.name && r !== self))
          errors.name = ['この 部屋名 を持った room が既に存在します。'];
      }
      return v;
    },
  },
};

function deleteRow(kind, row) {
  if (kind === 'categories') {
    for (const t of db.topics.filter((x) => x.category === row.id)) deleteRow('topics', t);
    db.categories = db.categories.filter((x) => x !== row);
  } else if (kind === 'topics') {
    db.replies = db.replies.filter((x) => x.topic !== row.id);
    db.topics = db.topics.filter((x) => x !== row);
    bbsEvent({ type: 'topic.deleted', id: row.id });
  } else if (kind === 'replies') {
    db.replies = db.replies.filter((x) => x !== row);
    bbsEvent({ type: 'reply.deleted', id: row.id, topic: row.topic });
  } else if (kind === 'rooms') {
    db.chatlogs = db.chatlogs.filter((x) => x.room !== row.id);
    db.rooms = db.rooms.filter((x) => x !== row);
    for (const s of roomSockets.get(row.id) || []) s.ws.close(4404);
  }
}

function topicFilter(url, rows) {
  const q = url.searchParams;
  let list = rows;
  if (q.get('category')) list = list.filter((t) => String(t.category) === q.get('category'));
  const terms = (q.get('search') || '').split(/[\s,\u3000]+/).filter(Boolean).map((s) => s.toLowerCase());
  if (terms.length) list = list.filter((t) => terms.every((term) => t.comment.toLowerCase().includes(term)));
  const ord = (q.get('ordering') || '').split(',');
  if (ord.includes('-id') || ord.includes('-created_at')) list = [...list].sort((a, b) => b.id - a.id);
  return list;
}

async function api(req, res, url) {
  const p = url.pathname;
  if (!p.endsWith('/')) return send(res, 301, undefined, { Location: p + '/' + url.search });
  const method = req.method;

  if (p === '/api/token/' && method === 'POST') {
    const body = (await readJson(req)) || {};
    const user = db.users.find((u) => u.username === str(body.username) && u.password === body.password);
    if (!user) return send(res, 401, { detail: 'No active account found with the given credentials' });
    return send(res, 200, pair(user.id));
  }
  if (p === '/api/token/refresh/' && method === 'POST') {
    const body = (await readJson(req)) || {};
    if (!('refresh' in body)) return send(res, 400, { refresh: ['この項目は必須です。'] });
    const v = verify(body.refresh, 'refresh');
    if (v.error) return send(res, 401, { detail: v.error, code: 'token_not_valid' });
    blacklist.add(v.payload.jti);
    const np = pair(v.payload.user_id, v.payload.iat);
    return send(res, 200, { access: np.access, refresh: np.refresh });
  }
  if (p === '/api/register/' && method === 'POST') {
    const body = (await readJson(req)) || {};
    const errors = {};
    const username = checkStr(errors, body, 'username', 150);
    if (username && db.users.some((u) => u.username === username)) errors.username = ['同じユーザー名が既に登録済みです。'];
    checkStr(errors, body, 'email', 254, { required: false, min: 0 });
    const password = checkStr(errors, body, 'password', 4096, { min: 8 });
    const confirm = checkStr(errors, body, 'password_confirm', 4096, { min: 8 });
    if (Object.keys(errors).length) return send(res, 400, errors);
    if (password !== confirm) return send(res, 400, { password: ['パスワードが一致していません'] });
    db.users.push({ id: nextId('users'), username, password, email: str(body.email) || '', is_staff: false });
    return send(res, 201, { message: '会員登録完了' });
  }

  const auth = userFromAuth(req.headers.authorization);
  if (auth.error)
    return send(res, 401, { detail: 'Given token not valid for any token type', code: 'token_not_valid', messages: [{ token_class: 'AccessToken', token_type: 'access', message: auth.error }] }, { 'WWW-Authenticate': 'Bearer realm="api"' });
  if (!auth.user) return send(res, 401, { detail: '認証情報が含まれていません。' }, { 'WWW-Authenticate': 'Bearer realm="api"' });
  const user = auth.user;

  if (p === '/api/logout/' && method === 'POST') {
    const body = (await readJson(req)) || {};
    if (typeof body.refresh !== 'string') return send(res, 400, { refresh: ['この項目は必須です。'] });
    const v = verify(body.refresh, 'refresh');
    if (v.error) return send(res, 400, { error: v.error });
    blacklist.add(v.payload.jti);
    return send(res, 200, { message: 'ログアウト成功しました' });
  }
  if (p === '/api/me/' && method === 'GET')
    return send(res, 200, { id: user.id, username: user.username, email: user.email, is_staff: user.is_staff });

  let m = p.match(/^\/api\/topics\/(\d+)\/replies\/$/);
  if (m && method === 'GET') {
    const rows = db.replies.filter((r) => r.topic === Number(m[1])).map(out.reply);
    const page = paginate(req, url, rows);
    return page.status ? send(res, page.status, page.body) : send(res, 200, page);
  }
  m = p.match(/^\/api\/rooms\/(\d+)\/chatlogs\/$/);
  if (m && method === 'GET') {
    const after = Number(url.searchParams.get('after') || 0);
    const rows = db.chatlogs.filter((c) => c.room === Number(m[1]) && c.id > after).map(out.chatlog);
    const page = paginate(req, url, rows);
    return page.status ? send(res, page.status, page.body) : send(res, 200, page);
  }
  m = p.match(/^\/api\/(categories|topics|replies|rooms)\/(?:([^/]+)\/)?$/);
  if (!m) return send(res, 404, { detail: '見つかりませんでした。' });
  const [, kind, idText] = m;
  const col = collections[kind];
  if (!idText) {
    if (method === 'GET') {
      let rows = col.rows();
      if (kind === 'topics') rows = topicFilter(url, rows);
      if (kind === 'replies') rows = rows.filter((r) => String(r.topic) === url.searchParams.get('id'));
      const page = paginate(req, url, rows.map(col.out));
      return page.status ? send(res, page.status, page.body) : send(res, 200, page);
    }
    if (method === 'POST') {
      const body = await readJson(req);
      if (!body || typeof body !== 'object') return send(res, 400, { detail: 'JSON parse error' });
      const errors = {};
      const v = col.validate(body, errors, false);
      if (Object.keys(errors).length) return send(res, 400, errors);
      const row = { id: nextId(kind), ...v, author_id: user.id };
      if (kind !== 'categories') row.created_at = displayNow();
      if (kind === 'rooms') row.headcount = 0;
      col.rows().push(row);
      if (col.event) bbsEvent({ type: `${col.event}.created`, ...col.out(row) });
      return send(res, 201, col.out(row));
    }
    return send(res, 405, { detail: `メソッド "${method}" は許されていません。` });
  }
  const row = col.rows().find((r) => String(r.id) === idText);
  if (!row) return send(res, 404, { detail: '見つかりませんでした。' });
  if (method === 'GET') return send(res, 200, col.out(row));
  if (!['PUT', 'PATCH', 'DELETE'].includes(method)) return send(res, 405, { detail: `メソッド "${method}" は許されていません。` });
  if (!(user.is_staff || row.author_id === user.id))
    return send(res, 403, { detail: 'このアクションを実行する権限がありません。' });
  if (method === 'DELETE') {
    deleteRow(kind, row);
    return send(res, 204);
  }
  const body = await readJson(req);
  const errors = {};
  const v = col.validate(body || {}, errors, method === 'PATCH', row);
  if (Object.keys(errors).length) return send(res, 400, errors);
  Object.assign(row, v);
  if (col.event) bbsEvent({ type: `${col.event}.updated`, ...col.out(row) });
  return send(res, 200, col.out(row));
}

// ---- static SPA --------------------------------------------------------------------------------
const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml', '.png': 'image/png', '.ico': 'image/x-icon', '.json': 'application/json' };
function serveStatic(req, res, url) {
  const rel = decodeURIComponent(url.pathname).replace(/^\/+/, '');
  let file = path.join(STATIC_DIR, rel);
  const isFile = file.startsWith(STATIC_DIR) && rel && fs.existsSync(file) && fs.statSync(file).isFile();
  if (!isFile) file = path.join(STATIC_DIR, 'index.html');
  const headers = {
    'Content-Type': TYPES[path.extname(file)] || 'application/octet-stream',
    'Content-Security-Policy': CSP,
    'X-Content-Type-Options': 'nosniff',
    'Cache-Control': isFile && rel.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache',
  };
  res.writeHead(200, headers);
  if (req.method === 'HEAD') return res.end();
  fs.createReadStream(file).pipe(res);
}

const server = http.createServer((req, res) => {
  const url = new URL(req.url, `http://${req.headers.host || 'localhost'}`);
  if (url.pathname === '/healthz') return send(res, 200, { status: 'ok' });
  if (url.pathname.startsWith('/api/'))
    return api(req, res, url).catch((err) => {
      console.error(err);
      send(res, 500, { detail: 'サーバエラーが発生しました。' });
    });
  if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 404, { detail: '見つかりませんでした。' });
  return serveStatic(req, res, url);
});

// ---- WebSocket ---------------------------------------------------------------------------------
const wss = new WebSocketServer({
  noServer: true,
  handleProtocols: (protocols) => (protocols.has('hiroba.v1') ? 'hiroba.v1' : [...protocols][0]),
});
server.on('upgrade', (req, socket, head) => {
  const url = new URL(req.url, 'http://x');
  const offered = String(req.headers['sec-websocket-protocol'] || '').split(',').map((s) => s.trim()).filter(Boolean);
  const v1 = offered.includes('hiroba.v1');
  const token = offered.find((s) => s !== 'hiroba.v1');
  const v = verify(token, 'access');
  const user = v.payload && db.users.find((u) => u.id === v.payload.user_id);
  const m = url.pathname.match(/^\/ws\/chat\/(\d+)\/$/);
  const room = m && db.rooms.find((r) => r.id === Number(m[1]));
  const reject = () => {
    socket.write('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    socket.destroy();
  };
  if (!user || (url.pathname !== '/ws/bbs/' && !room)) return reject();
  wss.handleUpgrade(req, socket, head, (ws) => {
    if (url.pathname === '/ws/bbs/') {
      bbsSockets.add(ws);
      ws.on('close', () => bbsSockets.delete(ws));
      return;
    }
    const entry = { ws, v1 };
    if (!roomSockets.has(room.id)) roomSockets.set(room.id, new Set());
    roomSockets.get(room.id).add(entry);
    room.headcount += 1;
    if (url.searchParams.has('after')) {
      const after = Number(url.searchParams.get('after'));
      for (const msg of db.chatlogs.filter((c) => c.room === room.id && c.id > after)) ws.send(chatFrame(msg, v1));
    }
    presence(room.id);
    ws.on('message', (data, isBinary) => {
      if (isBinary) return ws.close(1003);
      let frame;
      try {
        frame = JSON.parse(String(data));
      } catch {
        return ws.close(4400);
      }
      if (!frame || typeof frame !== 'object' || !('message' in frame)) return ws.close(4400);
      const fail = (code, detail) => v1 && ws.send(JSON.stringify({ type: 'error', code, detail }));
      if (v1 && 'type' in frame && frame.type !== 'message') return fail('unsupported_type', 'Unsupported frame type.');
      if (typeof frame.message !== 'string') return fail('invalid', 'Not a valid string.');
      const text = frame.message.trim();
      if (!text) return fail('blank', 'この項目は空にできません。');
      if ([...text].length > 200) return fail('max_length', 'この項目が200文字より長くならないようにしてください。');
      const msg = { id: nextId('chatlogs'), created_at: displayNow(), message: text, room: room.id, author_id: user.id };
      db.chatlogs.push(msg);
      for (const s of roomSockets.get(room.id) || []) s.ws.send(chatFrame(msg, s.v1));
    });
    ws.on('close', () => {
      roomSockets.get(room.id)?.delete(entry);
      room.headcount = Math.max(0, room.headcount - 1);
      presence(room.id);
    });
  });
});

server.listen(Number(PORT), HOST, () => {
  console.error(`mock hiroba on http://${HOST}:${server.address().port} (static ${STATIC_DIR}, access ttl ${ACCESS_TTL}s)`);
});
const stop = () => {
  for (const ws of wss.clients) ws.terminate();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 500).unref();
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
