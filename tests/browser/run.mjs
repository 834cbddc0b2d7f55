#!/usr/bin/env node
// Browser tests for the SPA against the real server: starts `hiroba serve` on a free loopback port
// with a temporary SQLite database and the built SPA (web/dist), drives Debian's Chromium through
// playwright-core (no downloaded browsers), and prints one line per flow and a final
// "N passed, M failed". Screenshots of the main screens go to tests/browser/out/.
//
//   node tests/browser/run.mjs            (from the repo root; needs web/dist and web/node_modules)
// Env: HIROBA_BIN (default build/hiroba), CHROMIUM (default /usr/bin/chromium), HEADFUL=1.
//
// User A reaches the server through a small TCP proxy owned by this script, so a test can cut A's
// chat socket (as a flaky network would) and check that the page resumes with no missed message.
import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const OUT = path.join(ROOT, 'tests/browser/out');
const BIN = process.env.HIROBA_BIN || path.join(ROOT, 'build/hiroba');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const DIST = path.join(ROOT, 'web/dist');
const TIMEOUT_MS = 15_000;

const require = createRequire(path.join(ROOT, 'web/package.json'));
let chromium;
try {
  ({ chromium } = require('playwright-core'));
} catch {
  console.error('browser: playwright-core is missing: run `npm ci` in web/');
  console.log('0 passed, 1 failed');
  process.exit(1);
}

// ---- server lifecycle --------------------------------------------------------------------------
let server = null;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hiroba-browser-'));
const serverLog = path.join(tmp, 'server.log');

function killServer() {
  if (server && server.exitCode === null && server.signalCode === null) {
    try {
      server.kill('SIGKILL');
    } catch {
      /* already gone */
    }
  }
}
process.on('exit', killServer);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => {
    killServer();
    process.exit(1);
  });
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function startServer() {
  const port = await freePort();
  const database = `sqlite:///${path.join(tmp, 'db.sqlite3')}`;
  const env = { ...process.env, HIROBA_SECRET_KEY: crypto.randomBytes(32).toString('hex') };
  // The schema step may not exist in every build; serve creates what it needs, so failure is fine.
  spawnSync(BIN, ['migrate', '--database', database], { env, stdio: 'ignore', timeout: 30_000 });
  const log = fs.openSync(serverLog, 'a');
  server = spawn(
    BIN,
    ['serve', '--listen', `127.0.0.1:${port}`, '--workers', '1', '--database', database, '--static-dir', DIST],
    { env, stdio: ['ignore', log, log] },
  );
  server.on('error', (err) => fs.appendFileSync(serverLog, `spawn failed: ${err.message}\n`));
  const base = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (server.exitCode !== null || server.signalCode !== null) break;
    try {
      const res = await fetch(`${base}/healthz`);
      if (res.status === 200) return { base, port };
    } catch {
      /* not listening yet */
    }
    await sleep(100);
  }
  throw new Error(`server did not become healthy (${BIN}); log:\n${tail(serverLog)}`);
}

async function stopServer() {
  if (!server || server.exitCode !== null || server.signalCode !== null) return;
  server.kill('SIGTERM');
  const deadline = Date.now() + 5000;
  while (server.exitCode === null && server.signalCode === null && Date.now() < deadline) await sleep(50);
  killServer();
}

function tail(file, lines = 30) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

// ---- a TCP proxy that can cut chat sockets -------------------------------------------------------
function startProxy(targetPort) {
  const chat = new Set();
  const state = { held: false };
  const srv = net.createServer((client) => {
    client.on('error', () => {});
    client.once('data', (first) => {
      const isChat = first.toString('latin1', 0, 32).startsWith('GET /ws/chat/');
      if (isChat && state.held) {
        client.destroy();
        return;
      }
      const upstream = net.connect(targetPort, '127.0.0.1');
      const link = { client, upstream };
      const close = () => {
        client.destroy();
        upstream.destroy();
        chat.delete(link);
      };
      upstream.on('error', close);
      client.on('close', close);
      upstream.on('close', close);
      upstream.write(first);
      client.pipe(upstream);
      upstream.pipe(client);
      if (isChat) chat.add(link);
    });
  });
  return new Promise((resolve) => {
    srv.listen(0, '127.0.0.1', () => {
      resolve({
        port: srv.address().port,
        hold() {
          state.held = true;
        },
        release() {
          state.held = false;
        },
        /** Cuts every open chat socket; returns how many were cut. */
        dropChat() {
          const n = chat.size;
          for (const link of [...chat]) {
            link.client.destroy();
            link.upstream.destroy();
          }
          chat.clear();
          return n;
        },
        close() {
          srv.close();
        },
      });
    });
  });
}

// ---- test runner -------------------------------------------------------------------------------
let passed = 0;
let failed = 0;
const shots = [];

async function step(name, fn) {
  const started = Date.now();
  try {
    await fn();
    passed += 1;
    console.log(`ok   ${name} (${Date.now() - started} ms)`);
    return true;
  } catch (err) {
    failed += 1;
    console.log(`FAIL ${name}: ${String(err && err.stack ? err.stack : err).split('\n').slice(0, 4).join('\n     ')}`);
    return false;
  }
}

function assert(cond, message) {
  if (!cond) throw new Error(message);
}

async function shot(page, name) {
  fs.mkdirSync(OUT, { recursive: true });
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  shots.push(file);
}

/** Waits until `locator` (optionally narrowed to text) is visible. */
const visible = (locator, text) =>
  (text === undefined ? locator : locator.filter({ hasText: text })).first().waitFor({ state: 'visible', timeout: TIMEOUT_MS });

async function launch(name, baseURL, problems) {
  const userDataDir = fs.mkdtempSync(path.join(tmp, `profile-${name}-`));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: !process.env.HEADFUL,
    baseURL,
    viewport: { width: 1200, height: 860 },
    locale: 'ja-JP',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
  context.setDefaultTimeout(TIMEOUT_MS);
  const page = context.pages()[0] || (await context.newPage());
  page.on('console', (msg) => {
    const text = msg.text();
    if (/Content[- ]Security[- ]Policy/i.test(text)) problems.push(`${name}: CSP: ${text}`);
  });
  page.on('pageerror', (err) => problems.push(`${name}: page error: ${err.message}`));
  // JWTs start with base64url '{"' = "eyJ": none may ever appear in a URL, HTTP or WebSocket.
  const jwtInUrl = (url) => /eyJ[\w-]{10,}\.[\w-]{10,}/.test(url);
  page.on('request', (req) => {
    if (jwtInUrl(req.url())) problems.push(`${name}: token in URL ${req.url()}`);
  });
  page.on('websocket', (ws) => {
    if (jwtInUrl(ws.url())) problems.push(`${name}: token in WebSocket URL ${ws.url()}`);
  });
  return { context, page };
}

const newTopic = (page) => page.getByRole('region', { name: '新しいトピック' });

async function signup(page, username, password) {
  await page.goto('/signup');
  await page.getByLabel('ユーザー名').fill(username);
  await page.getByLabel('メールアドレス(任意)').fill(`${username}@example.com`);
  await page.getByLabel('パスワード', { exact: true }).fill(password);
  await page.getByLabel('パスワード(確認)').fill(password);
  return page.getByRole('button', { name: '登録する' });
}

async function main() {
  if (!fs.existsSync(path.join(DIST, 'index.html'))) throw new Error('web/dist is missing: run `npm run build` in web/');
  const { base, port } = await startServer();
  const proxy = await startProxy(port);
  const problems = [];
  console.log(`browser: server ${base} (${BIN}), user A via proxy :${proxy.port}`);

  const A = await launch('a', `http://127.0.0.1:${proxy.port}`, problems);
  const B = await launch('b', base, problems);
  const a = A.page;
  const b = B.page;
  const password = 'correct horse 42';
  const uniq = Date.now().toString(36);
  const topicText = `はじめてのトピック ${uniq}`;
  const editedText = `編集したトピック ${uniq}`;
  const replyText = `返信です ${uniq}`;
  const roomName = `lobby-${uniq}`;
  let topicPath = null;

  const critical = async (name, fn) => {
    if (!(await step(name, fn))) throw new Error(`stopping after '${name}'`);
  };

  try {
    await critical('sign up logs in automatically', async () => {
      const submit = await signup(a, 'alice', password);
      await shot(a, '01-signup');
      await submit.click();
      await visible(a.getByTestId('current-user'), 'alice');
      assert(new URL(a.url()).pathname === '/', `expected / after signup, got ${a.url()}`);
      const stored = await a.evaluate(() => [localStorage.getItem('access'), localStorage.getItem('refresh')]);
      assert(stored[0] && stored[1], 'tokens not stored under "access"/"refresh"');
    });

    await critical('log out and log in again', async () => {
      await a.getByRole('button', { name: 'ログアウト' }).click();
      await visible(a.getByRole('heading', { name: 'ログイン' }));
      await a.getByLabel('ユーザー名').fill('alice');
      await a.getByLabel('パスワード').fill('wrong password');
      await a.getByRole('button', { name: 'ログイン', exact: true }).click();
      await visible(a.getByRole('alert'), 'No active account');
      await a.getByLabel('パスワード').fill(password);
      await shot(a, '02-login');
      await a.getByRole('button', { name: 'ログイン', exact: true }).click();
      await visible(a.getByTestId('current-user'), 'alice');
    });

    await critical('second user signs up', async () => {
      await (await signup(b, 'bob', password)).click();
      await visible(b.getByTestId('current-user'), 'bob');
    });

    await critical('create a category', async () => {
      await a.getByLabel('カテゴリ名').fill('雑談');
      await a.getByRole('button', { name: '作成' }).click();
      await visible(a.locator('.category-list li'), '雑談');
    });

    await critical('create a topic (and another user sees it live)', async () => {
      await b.goto('/');
      await visible(b.getByRole('heading', { name: 'トピック一覧' }));
      await newTopic(a).getByLabel('カテゴリ').selectOption({ label: '雑談' });
      await newTopic(a).getByLabel('本文').fill(topicText);
      await a.getByRole('button', { name: '投稿する' }).click();
      const item = a.locator('.topic-item').filter({ hasText: topicText });
      await visible(item);
      await visible(item, '雑談');
      await visible(item.locator('.author'), 'alice');
      await visible(b.locator('.topic-item'), topicText); // via /ws/bbs/, no reload
      await shot(a, '03-topics');
    });

    await critical('open the topic and reply', async () => {
      await a.getByRole('link', { name: topicText }).click();
      await a.waitForURL(/\/topic\/\d+\/$/);
      topicPath = new URL(a.url()).pathname;
      await a.getByLabel('返信の本文').fill(replyText);
      await a.getByRole('button', { name: '返信する' }).click();
      await visible(a.locator('.reply'), replyText);
      await visible(a.locator('.reply .author'), 'alice');
      await shot(a, '04-topic');
    });

    await step('another user sees replies live but no edit/delete buttons', async () => {
      await b.goto(topicPath);
      await visible(b.locator('.reply'), replyText);
      const bobReply = `ボブの返信 ${uniq}`;
      await b.getByLabel('返信の本文').fill(bobReply);
      await b.getByRole('button', { name: '返信する' }).click();
      await visible(a.locator('.reply'), bobReply); // live on A's page
      const topicButtons = await b.locator('.topic').getByRole('button', { name: '削除' }).count();
      const aliceReplyButtons = await b.locator('.reply').filter({ hasText: replyText }).getByRole('button').count();
      assert(topicButtons === 0 && aliceReplyButtons === 0, 'bob sees edit/delete controls on alice’s posts');
      assert((await b.getByRole('link', { name: '編集' }).count()) === 0, 'bob sees the topic edit link');
    });

    await step('edit the topic', async () => {
      await a.goto(topicPath);
      await a.locator('.topic').getByRole('link', { name: '編集' }).click();
      await a.waitForURL(/\/topic\/edit\/\d+\/$/);
      const box = a.getByLabel('本文');
      await visible(box);
      assert((await box.inputValue()) === topicText, 'edit form not prefilled');
      await box.fill(editedText);
      await shot(a, '05-topic-edit');
      await a.getByRole('button', { name: '保存' }).click();
      await a.waitForURL((url) => url.pathname === topicPath);
      await visible(a.locator('.topic'), editedText);
      await visible(b.locator('.topic'), editedText); // topic.updated, live
    });

    await step('search topics', async () => {
      await a.goto('/');
      await newTopic(a).getByLabel('カテゴリ').selectOption({ label: '雑談' });
      await newTopic(a).getByLabel('本文').fill(`別の話題 ${uniq}`);
      await a.getByRole('button', { name: '投稿する' }).click();
      await visible(a.locator('.topic-item'), '別の話題');
      await a.getByRole('searchbox').fill('編集した');
      await a.getByRole('button', { name: '検索', exact: true }).click();
      await a.waitForURL(/search=/);
      await visible(a.getByRole('status'), '検索結果');
      await a.waitForFunction(() => document.querySelectorAll('.topic-item').length === 1);
      await visible(a.locator('.topic-item'), editedText);
      await a.getByRole('button', { name: 'クリア' }).click();
      await a.waitForFunction(() => document.querySelectorAll('.topic-item').length === 2);
    });

    await step('delete a reply and the topic', async () => {
      await a.goto(topicPath);
      const reply = a.locator('.reply').filter({ hasText: replyText });
      await reply.getByRole('button', { name: '削除' }).click();
      await visible(reply.getByRole('alertdialog'), '返信を削除');
      await reply.getByRole('button', { name: '削除する' }).click();
      await reply.waitFor({ state: 'detached' });
      await a.locator('.topic').getByRole('button', { name: '削除' }).click();
      await visible(a.getByRole('alertdialog'), 'すべての返信を削除');
      await a.getByRole('button', { name: '削除する' }).click();
      await a.waitForURL((url) => url.pathname === '/');
      await visible(a.locator('.topic-item'), '別の話題');
      assert((await a.locator('.topic-item').filter({ hasText: editedText }).count()) === 0, 'deleted topic still listed');
      await visible(b.getByRole('heading', { name: 'このトピックは削除されました。' })); // live on B
    });

    await step('delete a category, warned that its topics go too', async () => {
      await a.goto('/');
      const row = a.locator('.category-list li').filter({ hasText: '雑談' });
      await row.getByRole('button', { name: '削除' }).click();
      await visible(row.getByRole('alertdialog'), 'トピックとその返信もすべて削除');
      await shot(a, '06-category-delete');
      await row.getByRole('button', { name: '削除する' }).click();
      await row.waitFor({ state: 'detached' });
      await a.waitForFunction(() => document.querySelectorAll('.topic-item').length === 0);
      await visible(a.locator('.empty'));
    });

    await critical('create a chat room', async () => {
      await a.getByRole('link', { name: 'チャット' }).click();
      await a.waitForURL(/\/rooms$/);
      await a.getByLabel('ルーム名').fill(roomName);
      await a.getByRole('button', { name: '作成' }).click();
      await visible(a.locator('.room-item'), roomName);
      await shot(a, '07-rooms');
    });

    await critical('two users chat with a live headcount', async () => {
      await a.getByRole('link', { name: roomName }).click();
      await a.waitForURL(/\/rooms\/\d+$/);
      const roomPath = new URL(a.url()).pathname;
      await visible(a.getByTestId('conn-status'), '接続済み');
      await visible(a.getByTestId('headcount'), '参加者 1 人');
      await b.goto(roomPath);
      await visible(b.getByTestId('conn-status'), '接続済み');
      await visible(a.getByTestId('headcount'), '参加者 2 人');
      await visible(b.getByTestId('headcount'), '参加者 2 人');
      await a.getByRole('textbox', { name: 'メッセージ' }).fill('こんにちは、ボブ');
      await a.getByRole('button', { name: '送信' }).click();
      await visible(b.locator('.message'), 'こんにちは、ボブ');
      await b.getByRole('textbox', { name: 'メッセージ' }).fill('やあ、アリス');
      await b.getByRole('button', { name: '送信' }).click();
      await visible(a.locator('.message'), 'やあ、アリス');
      await visible(a.locator('.message.mine'), 'こんにちは、ボブ');
      await shot(a, '08-room');
    });

    await step('a dropped socket resumes with no missed message', async () => {
      proxy.hold();
      assert(proxy.dropChat() >= 1, 'no chat socket went through the proxy');
      await visible(a.getByTestId('conn-status'), '再接続中');
      await b.getByRole('textbox', { name: 'メッセージ' }).fill('切断中のメッセージ');
      await b.getByRole('button', { name: '送信' }).click();
      await visible(b.locator('.message'), '切断中のメッセージ');
      await visible(b.getByTestId('headcount'), '参加者 1 人');
      proxy.release();
      await visible(a.getByTestId('conn-status'), '接続済み');
      await visible(a.locator('.message'), '切断中のメッセージ');
      await visible(a.getByTestId('headcount'), '参加者 2 人');
      const ids = await a.locator('.message').evaluateAll((els) => els.map((el) => el.dataset.id));
      assert(ids.length === 3 && new Set(ids).size === 3, `expected 3 distinct messages, got ${ids.join(',')}`);
    });

    await step('reload keeps the session and the history', async () => {
      await a.reload();
      await visible(a.getByTestId('current-user'), 'alice');
      await visible(a.getByTestId('conn-status'), '接続済み');
      await visible(a.locator('.message'), '切断中のメッセージ');
      assert((await a.locator('.message').count()) === 3, 'history changed after reload');
      assert(new URL(a.url()).pathname.startsWith('/rooms/'), 'reload left the room page');
    });

    await step('language toggle', async () => {
      await a.getByRole('button', { name: 'Switch to English' }).click();
      await visible(a.getByRole('link', { name: 'Board' }));
      await visible(a.getByTestId('headcount'), '2 here');
      await a.getByRole('button', { name: '日本語に切り替える' }).click();
      await visible(a.getByRole('link', { name: '掲示板' }));
    });

    await step('phone-sized layout', async () => {
      await b.setViewportSize({ width: 390, height: 844 });
      await visible(b.getByRole('textbox', { name: 'メッセージ' }));
      const overflow = await b.evaluate(() => document.documentElement.scrollWidth > window.innerWidth + 1);
      assert(!overflow, 'page scrolls sideways at 390 px');
      await shot(b, '09-room-phone');
      await b.setViewportSize({ width: 1200, height: 860 });
    });

    await step('closing the room tells the other user', async () => {
      await a.getByRole('link', { name: 'ルーム一覧へ' }).first().click();
      const row = a.locator('.room-item').filter({ hasText: roomName });
      await row.getByRole('button', { name: 'ルームを閉じる' }).click();
      await visible(row.getByRole('alertdialog'), '履歴もすべて削除');
      await row.getByRole('button', { name: '削除する' }).click();
      await row.waitFor({ state: 'detached' });
      await visible(b.getByRole('alert'), 'このルームは閉じられました。');
    });

    await step('log out clears the session', async () => {
      await a.getByRole('button', { name: 'ログアウト' }).click();
      await visible(a.getByRole('heading', { name: 'ログイン' }));
      const stored = await a.evaluate(() => [localStorage.getItem('access'), localStorage.getItem('refresh')]);
      assert(!stored[0] && !stored[1], 'tokens left in localStorage');
      await a.goto('/rooms');
      await a.waitForURL(/\/login$/);
      await shot(a, '10-logged-out');
    });

  } catch (err) {
    if (!String(err.message).startsWith('stopping after')) {
      failed += 1;
      console.log(`FAIL ${err.stack || err}`);
    } else {
      console.log(`browser: ${err.message}`);
    }
  } finally {
    // Checked whatever happened above: every page so far loaded under the server's CSP.
    await step('no CSP violations, page errors or tokens in URLs', async () => {
      assert(problems.length === 0, problems.join('\n'));
    });
    await A.context.close().catch(() => {});
    await B.context.close().catch(() => {});
    proxy.close();
  }
}

try {
  await main();
} catch (err) {
  failed += 1;
  console.log(`FAIL setup: ${err.message}`);
} finally {
  await stopServer();
}
if (failed) console.log(`browser: server log tail (${serverLog}):\n${tail(serverLog, 20)}`);
for (const file of shots) console.log(`screenshot: ${path.relative(process.cwd(), file)}`);
if (!failed) fs.rmSync(tmp, { recursive: true, force: true });
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
