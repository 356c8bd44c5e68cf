// The login in a real browser: headless Chromium (Debian's /usr/bin/chromium, driven by
// playwright-core) against the demo (scripts/demo: nginx + the module, the test OP
// t/op/server.js, the app demo/app.js), and against a second nginx of our own
// (cross-site.conf: response_mode form_post, nginx and the OP on different sites).
//
//   cd t/browser && npm ci && node login.mjs
//
// Needs the current build (target/release/nginx and the module; it does not run cargo),
// t/node_modules (npm ci in t/) and Chromium (apt-get install chromium).
// Environment: CHROMIUM=/path/to/chromium, BROWSER_TEST_KEEP=1 (keep the run directory
// t/tmp/browser-<pid>/ with the logs even when everything passed), BROWSER_TEST_TRAIL=1
// (print every scenario's URL trail, not only a failed one's).
// Exits non-zero when a check fails; prints every step, and on a failure the URL trail
// of the browser and the module's error log lines.

import { chromium } from 'playwright-core';
import { spawn, execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const RUN = path.join(ROOT, 't', 'tmp', `browser-${process.pid}`);
const NGINX = path.join(ROOT, 'target/release/nginx');
const MODULE = path.join(ROOT, 'target/release/libngx_http_auth_oidc_module.so');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const HOP_LIMIT = 20; // more navigations than this in one flow: a redirect loop

// ---------------------------------------------------------------- output and checks

let failures = 0;
const knownIssues = [];
let passes = 0;
const t0 = Date.now();
const stamp = () => `${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s`;
const say = (s) => console.log(`${stamp()} ${s}`);

class CheckError extends Error {}
function check(cond, what, detail) {
  if (cond) {
    passes += 1;
    console.log(`        ok   ${what}`);
    return;
  }
  throw new CheckError(`${what}${detail !== undefined ? `\n             got: ${detail}` : ''}`);
}

// Runs one scenario; a failure is reported with its trail and logs, and the next
// scenario still runs.
// opts.known: a known, reported problem: a failure is printed as KNOWN ISSUE and does
// not fail the run (a pass is reported too, so a fix shows up).
async function scenario(name, fn, ctx, opts = {}) {
  say(`=== ${name}${opts.known ? ' (known issue, does not fail the run)' : ''}`);
  try {
    await fn();
    if (process.env.BROWSER_TEST_TRAIL) {
      for (const tr of ctx?.trails?.() ?? []) {
        console.log(`        URL trail (${tr.name}):`);
        for (const l of tr.lines) console.log(`          ${l}`);
      }
    }
  } catch (e) {
    if (opts.known) knownIssues.push(name); else failures += 1;
    console.log(`        ${opts.known ? 'KNOWN ISSUE' : 'FAIL'} ${e instanceof CheckError ? e.message : e.stack}`);
    for (const tr of ctx?.trails?.() ?? []) {
      console.log(`        URL trail (${tr.name}):`);
      for (const l of tr.lines.slice(-40)) console.log(`          ${l}`);
    }
    for (const log of ctx?.logs ?? []) {
      console.log(`        ${path.relative(ROOT, log)} (module lines and warnings, last 30):`);
      for (const l of moduleLines(log).slice(-30)) console.log(`          ${l}`);
    }
  }
}

function moduleLines(file) {
  try {
    return fs.readFileSync(file, 'utf8').split('\n')
      .filter((l) => /auth_oidc:|\[(warn|error|crit|alert|emerg)\]/.test(l));
  } catch {
    return [];
  }
}

// ---------------------------------------------------------------- processes

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function ports(n) {
  const out = new Set();
  while (out.size < n) out.add(await freePort());
  return [...out];
}

const started = []; // {name, child, stop}

function startProcess(name, cmd, args, { env = {}, log, cwd = ROOT } = {}) {
  const out = fs.openSync(log, 'w');
  const child = spawn(cmd, args, { cwd, env: { ...process.env, ...env }, stdio: ['ignore', out, out], detached: true });
  fs.closeSync(out);
  const entry = { name, child, log, exited: false };
  child.on('exit', (code, sig) => { entry.exited = true; entry.code = code ?? sig; });
  started.push(entry);
  return entry;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(what, fn, { timeout = 30000, entry } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    if (await fn()) return;
    if (entry?.exited) {
      throw new Error(`${entry.name} exited (${entry.code}) while waiting for ${what}:\n${tail(entry.log, 30)}`);
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${entry ? `:\n${tail(entry.log, 30)}` : ''}`);
    await sleep(100);
  }
}

function tail(file, n) {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-n).map((l) => `    | ${l}`).join('\n');
  } catch {
    return '    | (no log)';
  }
}

async function httpOk(url) {
  try {
    const r = await fetch(url, { signal: AbortSignal.timeout(2000), redirect: 'manual' });
    return r.status === 200;
  } catch {
    return false;
  }
}

const alive = (pid) => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
};

// Stops what we started, newest first: the demo with SIGINT (it stops its own children),
// our nginx with QUIT, the node servers with TERM; by process group, as each was started
// in its own (detached).
let stopping;
const stopAll = () => (stopping ??= stopAllOnce());
async function stopAllOnce() {
  for (const e of [...started].reverse()) {
    if (e.exited) continue;
    const sig = e.stopSignal || 'SIGTERM';
    try { process.kill(e.child.pid, sig); } catch { /* gone */ }
    const end = Date.now() + (e.stopTimeout || 10000);
    while (!e.exited && Date.now() < end) await sleep(100);
    if (!e.exited) {
      say(`${e.name} (pid ${e.child.pid}) did not stop on ${sig}: KILL`);
      try { process.kill(-e.child.pid, 'SIGKILL'); } catch { /* gone */ }
    }
    // Anything left in its process group.
    try { process.kill(-e.child.pid, 0); process.kill(-e.child.pid, 'SIGTERM'); } catch { /* none */ }
  }
}

// What is still running that belongs to this run (matched on our run directory and ports).
function leftovers(patterns) {
  const found = [];
  for (const p of patterns) {
    try {
      const out = execFileSync('pgrep', ['-a', '-f', '--', p], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
      for (const l of out.split('\n')) if (l && !l.includes('pgrep')) found.push(l);
    } catch { /* pgrep exit 1: none */ }
  }
  return found;
}

// ---------------------------------------------------------------- the browser

const FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync',
  // nginx listens on 127.0.0.1 only; "localhost" must not try ::1 first.
  '--host-resolver-rules=MAP localhost 127.0.0.1',
];

// A new browser context (fresh cookie jar) whose navigations are recorded per page:
// "STATUS METHOD URL [-> Location] [sec-fetch-site]".
async function newContext(browser, name) {
  const context = await browser.newContext();
  const trails = [];
  const hook = (page, label) => {
    const tr = { name: label, lines: [], navigations: [] };
    trails.push(tr);
    page.on('response', async (resp) => {
      const req = resp.request();
      if (!req.isNavigationRequest() || req.frame() !== page.mainFrame()) return;
      // Recorded at once (checks may look right after a navigation); described below.
      tr.navigations.push({ url: req.url(), method: req.method(), status: resp.status() });
      const at = tr.lines.push(`${resp.status()} ${req.method().padEnd(4)} ${short(req.url())}`) - 1;
      let loc = '';
      try {
        const h = await resp.allHeaders();
        if (h.location) loc = ` -> ${h.location}`;
      } catch { /* gone */ }
      let sfs = '';
      try { sfs = (await req.allHeaders())['sec-fetch-site'] || ''; } catch { /* gone */ }
      tr.lines[at] = (`${resp.status()} ${req.method().padEnd(4)} ${short(req.url())}${short(loc)}${sfs ? `   [sec-fetch-site: ${sfs}]` : ''}`);
    });
    page.on('requestfailed', (req) => {
      if (req.isNavigationRequest()) tr.lines.push(`FAILED ${req.method()} ${short(req.url())}: ${req.failure()?.errorText}`);
    });
    page.on('pageerror', (e) => tr.lines.push(`page error: ${e.message}`));
    return tr;
  };
  let n = 0;
  const newPage = async (label) => {
    const page = await context.newPage();
    page.setDefaultTimeout(15000);
    const tr = hook(page, `${name}${label ? ` ${label}` : ''} tab ${++n}`);
    page.trail = tr;
    return page;
  };
  return { context, newPage, trails: () => trails };
}

// URLs with the long bits (code, state, id_token_hint) shortened for reading.
function short(u) {
  return u.replace(/((?:code|state|id_token_hint|nonce|code_challenge|iss)=)([^&\s]{12})[^&\s]*/g, '$1$2…');
}

const onOp = (opOrigin) => (n) => n.url.startsWith(`${opOrigin}/`);

async function expectOpLogin(page, opOrigin) {
  await page.waitForURL((u) => u.href.startsWith(`${opOrigin}/interaction/`), { timeout: 15000 });
  await page.locator('input[name=login]').waitFor();
  check(await page.locator('input[name=password]').count() === 1 && await page.locator('button[type=submit]').count() === 1,
    `the OP's login form (${short(page.url())})`);
}

async function signIn(page, user, password) {
  await page.fill('input[name=login]', user);
  await page.fill('input[name=password]', password);
  await Promise.all([page.waitForNavigation({ waitUntil: 'load' }), page.click('button[type=submit]')]);
  // A form_post answer is an auto-submitting page: wait until we are off the OP.
  await page.waitForLoadState('load');
}

async function waitOff(page, origin, ms = 15000) {
  await page.waitForURL((u) => u.href.startsWith(`${origin}/`), { timeout: ms });
  await page.waitForLoadState('load');
}

function identityRow(page, header) {
  return page.locator('table').first().locator('tr', { has: page.locator(`th:text-is("${header}")`) }).locator('td').first().innerText();
}

async function expectHello(page, url, name, sub) {
  check(page.url() === url, `back at the original URL ${url}`, page.url());
  const h1 = await page.locator('h1').innerText();
  check(h1 === `Hello, ${name}`, `the page shows "Hello, ${name}"`, h1);
  const xu = await identityRow(page, 'X-User');
  check(xu === sub, `the app received X-User: ${sub}`, xu);
}

function loopCheck(tr) {
  check(tr.navigations.length <= HOP_LIMIT, `no redirect loop (${tr.navigations.length} navigations)`, tr.lines.join('\n'));
}

// ---------------------------------------------------------------- the scenarios

async function demoScenarios(browser, d) {
  const base = `http://127.0.0.1:${d.port}`;
  const op = `http://127.0.0.1:${d.opPort}`;
  const logs = [d.errorLog];
  const target = `${base}/some/page?x=1`;

  // 1. The whole login, reload, fetch(), logout, login required again.
  {
    const c = await newContext(browser, 'demo login');
    await scenario('demo: login, reload, fetch(), logout, login again', async () => {
      const page = await c.newPage();
      say(`open ${target}`);
      await page.goto(target);
      await expectOpLogin(page, op);
      const firstHop = page.trail.navigations[0];
      check(firstHop && firstHop.status === 302, 'nginx answered the first visit with a 302 to the OP', JSON.stringify(firstHop));
      const mine = await c.context.cookies(base);
      const state = mine.filter((k) => /_state/.test(k.name));
      check(state.length === 1, `one state cookie for the login: ${state.map(cookieDesc).join(', ')}`, mine.map(cookieDesc).join(', '));

      say('sign in as alice / alice-password');
      await signIn(page, 'alice', 'alice-password');
      await waitOff(page, base);
      await expectHello(page, target, 'Alice Example', 'alice');
      loopCheck(page.trail);
      const jar = await c.context.cookies(base);
      say(`cookies now: ${jar.map(cookieDesc).join(', ')}; NGX_OIDC_SESSION is ${jar.find((k) => k.name === 'NGX_OIDC_SESSION')?.value.length} bytes`);
      check(!jar.some((k) => /_state/.test(k.name) && k.value), 'the state cookie is gone after the login');
      check(jar.some((k) => /^NGX_OIDC_SESSION/.test(k.name)), 'a session cookie (NGX_OIDC_SESSION*)', jar.map(cookieDesc).join(', '));

      say('reload');
      const before = page.trail.navigations.length;
      const opBefore = page.trail.navigations.filter(onOp(op)).length;
      const resp = await page.reload();
      check(resp.status() === 200, 'reload: 200', resp.status());
      check(page.trail.navigations.filter(onOp(op)).length === opBefore, 'reload: no navigation to the OP',
        page.trail.lines.slice(before).join(' | '));
      await expectHello(page, target, 'Alice Example', 'alice');

      say("fetch('/api/whoami') from the page");
      const who = await page.evaluate(async () => {
        const r = await fetch('/api/whoami', { headers: { Accept: 'application/json' } });
        return { status: r.status, body: await r.text() };
      });
      check(who.status === 200, "fetch('/api/whoami'): 200", `${who.status} ${who.body}`);
      const wj = JSON.parse(who.body);
      check(wj.sub === 'alice' && wj.name === 'Alice Example' && wj.email === 'alice@example.org',
        '... JSON with sub alice, name Alice Example, email alice@example.org', who.body);
      check(JSON.stringify(wj.groups) === '["staff","admin"]', '... and groups staff,admin', who.body);
      await page.click('#whoami');
      await page.waitForFunction(() => document.getElementById('whoami-out').textContent.startsWith('200'), null, { timeout: 5000 });
      check((await page.locator('#whoami-out').innerText()).includes('"alice"'), "the page's own fetch() button: 200 with alice");

      say('click "Log out"');
      const opLogouts = page.trail.navigations.length;
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${op}/`)), page.click('a:text-is("Log out")')]);
      await page.waitForLoadState('load');
      const logoutHop = page.trail.navigations.find((n, i) => i >= opLogouts && n.url.startsWith(`${base}/logout`));
      check(logoutHop && logoutHop.status === 302, 'GET /logout: 302 (same-origin click accepted, not the CSRF confirmation page)',
        page.trail.lines.slice(opLogouts).join(' | '));
      check(page.url().startsWith(`${op}/session/end`), `at the OP's end_session page (${short(page.url())})`, page.url());
      const afterLogout = await c.context.cookies(base);
      check(!afterLogout.some((k) => /^NGX_OIDC_SESSION/.test(k.name) && k.value), 'our session cookie is cleared',
        afterLogout.map(cookieDesc).join(', '));
      const yes = page.locator('button[name=logout][value=yes], button:has-text("Yes, sign me out")').first();
      check(await yes.count() === 1, 'the OP asks to confirm ("Yes, sign me out")');
      await Promise.all([page.waitForNavigation(), yes.click()]);
      await page.waitForLoadState('load');
      // post_logout_uri is "/", itself protected: from there the module sends the browser to
      // the OP's sign-in page again (the OP session is gone, so it asks for the password).
      await page.waitForURL((u) => u.href.startsWith(`${op}/interaction/`) || u.href.startsWith(`${base}/`), { timeout: 10000 });
      const postLogout = page.trail.navigations.slice(opLogouts).find((n) => n.url.startsWith(`${base}/?`) || n.url === `${base}/`);
      check(postLogout, 'the OP sent the browser back to post_logout_uri (/)', page.trail.lines.slice(opLogouts).join('\n'));
      await expectOpLogin(page, op);
      loopCheck(page.trail);

      say('the protected page again: the password is asked again');
      await page.goto(target);
      await expectOpLogin(page, op);
      // Our origin's API, with this browser's cookies (the tab is on the OP's origin now).
      const p2 = await c.newPage();
      const r401 = await p2.request.get(`${base}/api/whoami`, { headers: { Accept: 'application/json' }, maxRedirects: 0 });
      check(r401.status() === 401, 'GET /api/whoami (JSON) without a session: 401, not a redirect', r401.status());
      await p2.close();
      say('sign in again as bob');
      await signIn(page, 'bob', 'bob-password');
      await waitOff(page, base);
      await expectHello(page, target, 'Bob Example', 'bob');
    }, { ...c, logs });
    await c.context.close();
  }

  // 2. Two tabs start a login at the same time; both sign in at the same time.
  {
    const c = await newContext(browser, 'demo two tabs');
    await scenario('demo: two tabs log in at the same time', async () => {
      const [a, b] = [await c.newPage('A'), await c.newPage('B')];
      const ua = `${base}/tab/one?n=1`;
      const ub = `${base}/tab/two?n=2`;
      await Promise.all([a.goto(ua), b.goto(ub)]);
      await Promise.all([expectOpLogin(a, op), expectOpLogin(b, op)]);
      const states = (await c.context.cookies(base)).filter((k) => /_state/.test(k.name));
      check(states.length === 2, 'two state cookies, one per login', states.map(cookieDesc).join(', '));
      await a.fill('input[name=login]', 'alice');
      await a.fill('input[name=password]', 'alice-password');
      await b.fill('input[name=login]', 'alice');
      await b.fill('input[name=password]', 'alice-password');
      await Promise.all([a.click('button[type=submit]'), b.click('button[type=submit]')]);
      await Promise.all([waitOff(a, base), waitOff(b, base)]);
      await expectHello(a, ua, 'Alice Example', 'alice');
      await expectHello(b, ub, 'Alice Example', 'alice');
      loopCheck(a.trail);
      loopCheck(b.trail);
      const r = await a.reload();
      check(r.status() === 200 && a.url() === ua, 'tab A reloads without a login');
    }, { ...c, logs });
    await c.context.close();
  }

  // 3. A logout link on another origin (the OP's, same site): the CSRF guard shows its
  //    confirmation page; its button (a same-origin POST) logs out.
  {
    const c = await newContext(browser, 'demo logout from elsewhere');
    await scenario('demo: /logout from another origin asks first; its button logs out', async () => {
      const page = await c.newPage();
      await page.goto(target);
      await expectOpLogin(page, op);
      await signIn(page, 'alice', 'alice-password');
      await waitOff(page, base);
      await expectHello(page, target, 'Alice Example', 'alice');
      await page.goto(`${op}/.well-known/openid-configuration`);
      const mark = page.trail.navigations.length;
      await Promise.all([page.waitForURL(`${base}/logout`), page.evaluate((u) => {
        const a = document.createElement('a');
        a.href = u;
        document.body.appendChild(a);
        a.click();
      }, `${base}/logout`)]);
      await page.waitForLoadState('load');
      const hop = page.trail.navigations[mark];
      check(hop && hop.status === 200, 'a link from the OP origin (Sec-Fetch-Site: same-site) gets the confirmation page, 200',
        page.trail.lines.slice(mark).join(' | '));
      check((await c.context.cookies(base)).some((k) => k.name === 'NGX_OIDC_SESSION' && k.value), '... and the session is still there');
      const btn = page.locator('form[method=post] button[type=submit]');
      check(await btn.count() === 1, 'the confirmation page has a sign-out button', await page.content());
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${op}/session/end`)), btn.click()]);
      const post = page.trail.navigations.slice(mark).find((n) => n.method === 'POST' && n.url === `${base}/logout`);
      check(post && post.status === 302, 'its POST (same origin) is accepted: 302 to the OP end_session', page.trail.lines.slice(mark).join('\n'));
      check(!(await c.context.cookies(base)).some((k) => /^NGX_OIDC_SESSION/.test(k.name) && k.value), 'our session cookie is cleared');
    }, { ...c, logs });
    await c.context.close();
  }

  // 4. A big identity (carol: 120 groups): the session is split over several cookies,
  //    which the demo's large_client_header_buffers (32k) accept in one Cookie line.
  await bigSession(browser, base, op, logs, 'demo: a session too big for one cookie (carol)',
    'NGX_OIDC_SESSION', target);

  // 5. The user cancels at the OP: the module's "Sign-in refused", 403, no loop.
  {
    const c = await newContext(browser, 'demo cancel');
    await scenario('demo: a cancelled login shows "Sign-in refused" (403)', async () => {
      const page = await c.newPage();
      await page.goto(`${base}/denied?y=2`);
      await expectOpLogin(page, op);
      await Promise.all([page.waitForURL((u) => u.href.startsWith(`${base}/`)), page.click('a:text-is("Cancel")')]);
      await page.waitForLoadState('load');
      await sleep(1500); // a refresh or redirect loop would show up here
      const last = page.trail.navigations.at(-1);
      check(last.url.startsWith(`${base}/oidc_callback?`) && /error=access_denied/.test(last.url),
        'the OP sent error=access_denied to /oidc_callback', short(last.url));
      check(last.status === 403, 'the callback answered 403', last.status);
      const title = await page.title();
      const text = await page.locator('body').innerText();
      check(/Sign-in refused/.test(title + text), 'the page says "Sign-in refused"', `${title}: ${text.slice(0, 200)}`);
      loopCheck(page.trail);
      const authz = page.trail.navigations.filter((n) => n.url.startsWith(`${op}/auth?`));
      check(authz.length === 1, 'one authorization request only (no new login started after the refusal)', authz.length);
      const jar = await c.context.cookies(base);
      check(!jar.some((k) => /^NGX_OIDC_SESSION($|_\d)/.test(k.name) && k.value), 'no session cookie', jar.map(cookieDesc).join(', '));
    }, { ...c, logs });
    await c.context.close();
  }
}

async function bigSession(browser, base, op, logs, name, cookie, target, opts, logoutPath = '/logout') {
  const c = await newContext(browser, 'carol');
  await scenario(name, async () => {
    const page = await c.newPage();
    await page.goto(target);
    await expectOpLogin(page, op);
    await signIn(page, 'carol', 'carol-password');
    await waitOff(page, base);
    const jar = (await c.context.cookies(base)).filter((k) => k.name.startsWith(cookie));
    const all = await c.context.cookies(base);
    const line = all.map((k) => `${k.name}=${k.value}`).join('; ');
    say(`session cookies: ${jar.map((k) => `${k.name}=${k.value.length}B`).join(', ')}; the Cookie line Chromium sends: ${line.length + 8} bytes`);
    check(jar.length > 1, 'more than one session cookie (chunked)', jar.length);
    const landed = page.trail.navigations.at(-1);
    if (landed.status !== 200) {
      // How stuck is the user? Every request carries the same Cookie line, /logout too.
      const out = await page.goto(`${base}${logoutPath}`);
      say(`the page answered ${landed.status}; then GET ${logoutPath} answers ${out.status()}`);
    }
    await expectHello(page, target, 'Carol Example', 'carol');
    loopCheck(page.trail);
    const groups = await page.locator('p:has-text("Your groups") code').count();
    check(groups === 120, 'the app received all 120 groups (X-Groups)', groups);
    const opBefore = page.trail.navigations.filter(onOp(op)).length;
    const r = await page.reload();
    check(r.status() === 200 && page.trail.navigations.filter(onOp(op)).length === opBefore, 'reload: 200, no new trip to the OP');
  }, { ...c, logs }, opts);
  await c.context.close();
}

async function crossSiteScenarios(browser, s) {
  const op = `http://127.0.0.1:${s.opPort}`;
  const logs = [s.errorLog];
  const flows = [
    { name: 'form_post, same site (127.0.0.1)', host: '127.0.0.1', loc: 'fp', cookie: 'FP', post: true },
    { name: 'form_post across sites (nginx at localhost, OP at 127.0.0.1)', host: 'localhost', loc: 'fpx', cookie: 'FPX', post: true },
    { name: 'query response across sites (localhost)', host: 'localhost', loc: 'qx', cookie: 'QX' },
    { name: 'cookie_samesite Strict across sites (localhost): no loop', host: 'localhost', loc: 'strict', cookie: 'STRICT' },
  ];
  for (const f of flows) {
    const base = `http://${f.host}:${s.port}`;
    const target = `${base}/${f.loc}/page?z=${f.loc}`;
    const c = await newContext(browser, f.loc);
    await scenario(`second nginx: ${f.name}`, async () => {
      const page = await c.newPage();
      await page.goto(target);
      await expectOpLogin(page, op);
      const auth = page.trail.navigations.find(onOp(op));
      const q = new URL(auth.url).searchParams;
      check(q.get('redirect_uri') === `${base}/${f.loc}/callback`, `redirect_uri ${q.get('redirect_uri')}`);
      if (f.post) check(q.get('response_mode') === 'form_post', 'response_mode=form_post', q.get('response_mode'));
      const st = (await c.context.cookies(base)).filter((k) => /_state/.test(k.name));
      say(`state cookie: ${st.map(cookieDesc).join(', ')}`);
      check(st.length === 1, 'the browser kept the state cookie', st.length);
      await signIn(page, 'alice', 'alice-password');
      await waitOff(page, base);
      await sleep(300);
      await page.waitForLoadState('load');
      if (f.post) {
        const cb = page.trail.navigations.find((n) => n.url === `${base}/${f.loc}/callback`);
        check(cb && cb.method === 'POST', 'the OP page POSTed code and state to the callback', page.trail.lines.join('\n'));
        check(cb.status === 302 || cb.status === 303, `the callback answered ${cb?.status} (a redirect to the page)`, page.trail.lines.join('\n'));
      }
      await expectHello(page, target, 'Alice Example', 'alice');
      loopCheck(page.trail);
      const jar = await c.context.cookies(base);
      say(`cookies now: ${jar.map(cookieDesc).join(', ')}`);
      const r = await page.reload();
      check(r.status() === 200, 'reload: 200 with the session', r.status());
      await expectHello(page, target, 'Alice Example', 'alice');
    }, { ...c, logs });
    await c.context.close();
  }
  const base = `http://127.0.0.1:${s.port}`;
  await bigSession(browser, base, op, logs, 'second nginx: a session chunked over two cookies (carol)',
    'BIG', `${base}/big/page?z=big`, {});
}

function cookieDesc(k) {
  return `${k.name}(${k.sameSite}${k.secure ? ',Secure' : ''}${k.httpOnly ? ',HttpOnly' : ''},path=${k.path})`;
}

// ---------------------------------------------------------------- main

async function startDemo() {
  const [port, opPort, appPort] = await ports(3);
  const dir = path.join(RUN, 'demo');
  const entry = startProcess('scripts/demo', path.join(ROOT, 'scripts/demo'), [], {
    env: {
      DEMO_NO_BUILD: '1', DEMO_QUIET: '1', DEMO_PORT: String(port), DEMO_OP_PORT: String(opPort),
      DEMO_APP_PORT: String(appPort), DEMO_DIR: dir,
    },
    log: path.join(RUN, 'demo.out'),
  });
  entry.stopSignal = 'SIGINT';
  entry.stopTimeout = 30000;
  say(`starting the demo (nginx :${port}, OP :${opPort}, app :${appPort}, DEMO_DIR ${path.relative(ROOT, dir)}) ...`);
  await waitFor('the demo to print "The demo is running"', () => /The demo is running/.test(readOr(entry.log)), { timeout: 90000, entry });
  await waitFor('the demo nginx /health', () => httpOk(`http://127.0.0.1:${port}/health`), { entry });
  say('the demo is running');
  return { port, opPort, appPort, dir, errorLog: path.join(dir, 'logs/error.log'), entry };
}

async function startSecond() {
  const [port, opPort, appPort] = await ports(3);
  const dir = path.join(RUN, 'second');
  fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
  fs.mkdirSync(path.join(dir, 'temp'), { recursive: true });
  const conf = fs.readFileSync(path.join(ROOT, 't/browser/cross-site.conf'), 'utf8')
    .replaceAll('%%MODULE%%', MODULE).replaceAll('%%PORT%%', String(port))
    .replaceAll('%%OP_PORT%%', String(opPort)).replaceAll('%%APP_PORT%%', String(appPort));
  fs.writeFileSync(path.join(dir, 'nginx.conf'), conf);
  const redirects = [];
  for (const host of ['127.0.0.1', 'localhost']) {
    for (const loc of ['fp', 'fpx', 'qx', 'strict', 'big']) redirects.push('--redirect-uri', `http://${host}:${port}/${loc}/callback`);
  }
  say(`starting a second stack for form_post and cross-site (nginx :${port}, OP :${opPort}, app :${appPort}) ...`);
  const opE = startProcess('OP (second)', 'node', [path.join(ROOT, 't/op/server.js'), '--port', String(opPort), ...redirects],
    { log: path.join(dir, 'logs/op.log') });
  await waitFor('the OP to print READY', () => /^READY /m.test(readOr(opE.log)), { entry: opE });
  const appE = startProcess('app (second)', 'node', [path.join(ROOT, 'demo/app.js'), '--port', String(appPort)],
    { log: path.join(dir, 'logs/app.log') });
  await waitFor('the app to print READY', () => /^READY /m.test(readOr(appE.log)), { entry: appE });
  const args = ['-p', `${dir}/`, '-e', path.join(dir, 'logs/error.log'), '-c', path.join(dir, 'nginx.conf')];
  execFileSync(NGINX, [...args, '-t'], { stdio: 'pipe' });
  const ngE = startProcess('nginx (second)', NGINX, [...args, '-g', 'daemon off;'], { log: path.join(dir, 'logs/nginx.out') });
  ngE.stopSignal = 'SIGQUIT';
  await waitFor('the second nginx /health', () => httpOk(`http://127.0.0.1:${port}/health`), { entry: ngE });
  say('the second stack is running');
  return { port, opPort, appPort, dir, errorLog: path.join(dir, 'logs/error.log') };
}

function readOr(f) {
  try { return fs.readFileSync(f, 'utf8'); } catch { return ''; }
}

function severeLines(file) {
  return readOr(file).split('\n').filter((l) => /\[(alert|crit|emerg)\]/.test(l));
}

async function main() {
  for (const f of [NGINX, MODULE, path.join(ROOT, 't/node_modules/oidc-provider'), CHROMIUM]) {
    if (!fs.existsSync(f)) throw new Error(`missing ${f} (see t/browser/README.md)`);
  }
  fs.rmSync(RUN, { recursive: true, force: true });
  fs.mkdirSync(RUN, { recursive: true });
  // nginx's workers run as nobody when started as root: they must reach the run directory.
  fs.chmodSync(RUN, 0o755);
  const moduleStat = fs.statSync(MODULE);
  say(`module ${path.relative(ROOT, MODULE)} (${moduleStat.mtime.toISOString()}), run directory ${path.relative(ROOT, RUN)}`);

  let browser;
  let demo;
  let second;
  try {
    demo = await startDemo();
    second = await startSecond();
    // Our own SIGINT/SIGTERM handler stops the servers; Playwright's would exit at once.
    browser = await chromium.launch({
      executablePath: CHROMIUM, headless: true, args: FLAGS, handleSIGINT: false, handleSIGTERM: false, handleSIGHUP: false,
    });
    activeBrowser = browser;
    say(`Chromium ${browser.version()}`);
    await demoScenarios(browser, demo);
    await crossSiteScenarios(browser, second);
    await scenario('nginx error logs: no [alert], [crit] or [emerg]', async () => {
      for (const log of [demo.errorLog, second.errorLog]) {
        const bad = severeLines(log);
        check(bad.length === 0, `${path.relative(ROOT, log)}: clean`, bad.join('\n'));
      }
    });
  } catch (e) {
    failures += 1;
    console.log(`FAIL (set-up): ${e.stack || e}`);
  } finally {
    if (browser) await browser.close().catch(() => {});
    say('stopping everything started ...');
    await stopAll();
    const patterns = [RUN];
    for (const x of [demo, second]) if (x) patterns.push(`--port ${x.opPort}\\b`, `--port ${x.appPort}\\b`);
    await sleep(300);
    const left = [...leftovers(patterns), ...started.filter((e) => alive(e.child.pid)).map((e) => `${e.child.pid} ${e.name}`)];
    if (left.length) {
      failures += 1;
      console.log(`FAIL: still running after the stop:\n${left.map((l) => `    ${l}`).join('\n')}`);
    } else {
      say('nothing left running (pgrep)');
    }
    const demoOut = readOr(path.join(RUN, 'demo.out'));
    if (demo && !/demo: stopped\./.test(demoOut)) {
      failures += 1;
      console.log(`FAIL: scripts/demo did not report "stopped." on SIGINT:\n${tail(path.join(RUN, 'demo.out'), 10)}`);
    }
  }
  say(`${passes} checks passed, ${failures} failure(s)${knownIssues.length ? `, known issues: ${knownIssues.join('; ')}` : ''}`);
  if (failures === 0 && !process.env.BROWSER_TEST_KEEP) {
    fs.rmSync(RUN, { recursive: true, force: true });
  } else {
    say(`logs kept in ${path.relative(ROOT, RUN)}/ (demo/logs/, second/logs/)`);
  }
  process.exitCode = failures ? 1 : 0;
}

let activeBrowser;
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, async () => {
    console.log(`\n${sig}: stopping`);
    await activeBrowser?.close().catch(() => {});
    await stopAll();
    const left = [...leftovers([RUN]), ...started.filter((e) => alive(e.child.pid)).map((e) => `${e.child.pid} ${e.name}`)];
    console.log(left.length ? `still running: ${left.join('; ')}` : 'stopped everything (nothing left: pgrep)');
    process.exit(130);
  });
}

await main();
