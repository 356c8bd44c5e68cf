// The demo's sample application: it plays the Flask app of the seeds, the one that
// sits behind single sign-on and only wants to know who is calling. It has no login
// code at all: nginx with ngx_http_auth_oidc_module logs the user in at the OpenID
// Provider and passes the identity on as request headers (see nginx-conf/demo.conf):
//
//   X-User    $oidc_claim_sub      the user's stable identifier at the OP
//   X-Email   $oidc_claim_email
//   X-Name    $oidc_claim_name
//   X-Groups  $oidc_claim_groups   a JSON array claim, joined with ","
//
//   node demo/app.js --port PORT
//
// Pages:   GET /*            "Hello, <name>": the identity headers and every request header
//          GET /api/whoami   the same identity as JSON
//          GET /health       "ok" (for scripts; the app itself checks nothing)
// Prints "READY <port>" once listening; stops on SIGTERM/SIGINT.
//
// Node's standard library only (no npm install). Everything printed is escaped.

'use strict';

const http = require('node:http');
const crypto = require('node:crypto');
const { parseArgs } = require('node:util');

const { values: args } = parseArgs({
  options: { port: { type: 'string', default: '5000' }, host: { type: 'string', default: '127.0.0.1' } },
});
const port = Number(args.port);
if (!Number.isInteger(port) || port <= 0 || port > 65535) {
  console.error('usage: node demo/app.js --port PORT');
  process.exit(2);
}

// The identity headers nginx sets. A real app must only trust them because nginx is
// the only way in (the app listens on 127.0.0.1) and nginx replaces whatever the
// client sent under these names (auth_oidc_set_header).
const IDENTITY = [
  ['x-user', 'X-User', '$oidc_claim_sub'],
  ['x-email', 'X-Email', '$oidc_claim_email'],
  ['x-name', 'X-Name', '$oidc_claim_name'],
  ['x-groups', 'X-Groups', '$oidc_claim_groups'],
];

function escapeHtml(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function header(req, name) {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function identity(req) {
  const sub = header(req, 'x-user') || null;
  const groups = header(req, 'x-groups');
  return {
    authenticated: Boolean(sub),
    sub,
    email: header(req, 'x-email') || null,
    name: header(req, 'x-name') || null,
    groups: groups ? groups.split(',').map((g) => g.trim()).filter(Boolean) : [],
  };
}

// The page's one script, allowed by its hash in the Content-Security-Policy.
const SCRIPT = `
document.getElementById('whoami').addEventListener('click', async () => {
  const out = document.getElementById('whoami-out');
  out.textContent = '...';
  try {
    const r = await fetch('/api/whoami', { headers: { Accept: 'application/json' } });
    const body = await r.text();
    out.textContent = r.status + ' ' + r.statusText + '\\n' + (r.headers.get('WWW-Authenticate') ? 'WWW-Authenticate: ' + r.headers.get('WWW-Authenticate') + '\\n' : '') + body;
  } catch (e) {
    out.textContent = 'request failed: ' + e;
  }
});
`;
const SCRIPT_HASH = crypto.createHash('sha256').update(SCRIPT).digest('base64');

const STYLE = `body{font-family:system-ui,sans-serif;max-width:52em;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}th,td{border:1px solid #ccc;padding:.3em .5em;text-align:left;vertical-align:top}
th{background:#f3f3f3;white-space:nowrap}td{font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}
.warn{background:#fff3cd;border:1px solid #e0c060;padding:.5em 1em}.muted{color:#666}pre{background:#f6f6f6;padding:.6em;white-space:pre-wrap;word-break:break-all}
a.button,button{display:inline-block;padding:.35em .9em;border:1px solid #888;border-radius:4px;background:#fafafa;color:#222;text-decoration:none;font:inherit;cursor:pointer}`;

function page(req) {
  const id = identity(req);
  const who = id.name || id.sub;
  const rows = IDENTITY.map(([key, name, variable]) => {
    const v = header(req, key);
    return `<tr><th>${escapeHtml(name)}</th><td>${v === undefined ? '<span class="muted">(not sent)</span>' : escapeHtml(v)}</td>`
      + `<td class="muted">${escapeHtml(variable)}</td></tr>`;
  }).join('\n');
  const all = [];
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    all.push(`<tr><th>${escapeHtml(req.rawHeaders[i])}</th><td>${escapeHtml(req.rawHeaders[i + 1])}</td></tr>`);
  }
  const groups = id.groups.length
    ? `<p>Your groups: ${id.groups.map((g) => `<code>${escapeHtml(g)}</code>`).join(', ')}</p>` : '';
  const warning = id.authenticated ? '' : `<p class="warn">No identity headers arrived. This request did not
come through a location protected by <code>auth_oidc</code>: open the app through nginx.</p>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>Hello, ${escapeHtml(who || 'stranger')}: demo app behind nginx + auth_oidc</title>
<style>${STYLE}</style>
</head><body>
<h1>Hello, ${escapeHtml(who || 'stranger')}</h1>
${warning}
${id.email ? `<p>Your e-mail address: <code>${escapeHtml(id.email)}</code></p>` : ''}
${groups}
<p>This page is the upstream application (<code>demo/app.js</code>). It has no login code:
nginx logged you in at the OpenID Provider and sent who you are in the headers below.</p>
<p><a class="button" href="/logout">Log out</a>
<button id="whoami" type="button">Call /api/whoami with fetch()</button>
<a class="button" href="/api/whoami">Open /api/whoami</a></p>
<pre id="whoami-out" class="muted">(fetch() without a session gets 401, not a redirect)</pre>

<h2>Identity headers set by nginx</h2>
<table><tr><th>Header</th><th>Value received</th><th>from the variable</th></tr>
${rows}
</table>

<h2>Request</h2>
<table><tr><th>Method</th><td>${escapeHtml(req.method)}</td></tr>
<tr><th>URL</th><td>${escapeHtml(req.url)}</td></tr></table>

<h2>All request headers</h2>
<p class="muted">Exactly what the application received. The module's own cookies are not among them
(<code>auth_oidc_pass_cookies off</code>, the default), and identity headers a client sends
itself are replaced, never passed on. Cookies such as <code>_session</code> or
<code>_interaction</code> belong to the demo's OpenID Provider: browsers do not separate cookies
by port, and the OP runs on 127.0.0.1 too.</p>
<table>
${all.join('\n')}
</table>
<script>${SCRIPT}</script>
</body></html>
`;
}

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, {
    'Content-Type': type,
    'Content-Length': Buffer.byteLength(body),
    // Personal data: no cache may keep it.
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    'Referrer-Policy': 'no-referrer',
    ...extra,
  });
  res.end(body);
}

const server = http.createServer((req, res) => {
  req.resume();
  let path;
  try {
    path = new URL(req.url, 'http://app.invalid').pathname;
  } catch {
    send(res, 400, 'text/plain; charset=utf-8', 'bad request\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    send(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n', { Allow: 'GET, HEAD' });
    return;
  }
  if (path === '/health') {
    send(res, 200, 'text/plain; charset=utf-8', 'ok\n');
  } else if (path === '/api/whoami') {
    send(res, 200, 'application/json', `${JSON.stringify(identity(req), null, 2)}\n`);
  } else if (path.startsWith('/api/')) {
    send(res, 404, 'application/json', `${JSON.stringify({ error: 'not_found' })}\n`);
  } else {
    send(res, 200, 'text/html; charset=utf-8', page(req), {
      'Content-Security-Policy': `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; `
        + "style-src 'unsafe-inline'; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    });
  }
  console.log(`${new Date().toISOString()} ${req.method} ${req.url} user=${JSON.stringify(header(req, 'x-user') ?? null)}`);
});

server.keepAliveTimeout = 65000;
server.on('error', (e) => {
  console.error(`demo app: ${e.message}`);
  process.exit(1);
});
server.listen(port, args.host, () => console.log(`READY ${port}`));

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
