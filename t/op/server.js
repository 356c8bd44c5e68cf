// The test OpenID Provider: the npm package `oidc-provider` (OpenID Certified), set up
// with the clients and users the end-to-end suites and the demo use, behind a small
// control API that lets a test count requests and inject faults.
//
//   node t/op/server.js --port PORT [--redirect-uri URI]... [--post-logout-uri URI]...
//                       [--client-key PEM] [--backchannel-uri URI]
//
// --backchannel-uri: test-client's backchannel_logout_uri (OpenID Connect Back-Channel
// Logout 1.0, session required: the logout tokens carry sid). oidc-provider 9 has no
// Front-Channel Logout any more: the front-channel suites frame the URI themselves.
//
// --client-key: a private key file; its public half is registered as the key of the
// client pkjwt-client (token_endpoint_auth_method private_key_jwt).
//
// Prints "READY <port>" once listening; stops on SIGTERM/SIGINT.
//
// Endpoints are oidc-provider's defaults: /.well-known/openid-configuration, /auth,
// /token, /jwks, /me (userinfo), /token/introspection, /token/revocation, /session/end.
// Login is our own small form (user + password, checked), consent is granted
// automatically: tests and the demo go through a real login without clicking through.

import http from 'node:http';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';
import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'redirect-uri': { type: 'string', multiple: true, default: [] },
    'post-logout-uri': { type: 'string', multiple: true, default: [] },
    'access-token-format': { type: 'string', default: 'opaque' },
    'client-key': { type: 'string' },
    // Lifetime of access tokens in seconds (refresh tests use a short one).
    'access-token-ttl': { type: 'string', default: '3600' },
    'backchannel-uri': { type: 'string' },
  },
});
const port = Number(args.port);
if (!port) {
  console.error('usage: server.js --port PORT [--redirect-uri URI]...');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

const USERS = {
  alice: {
    password: 'alice-password',
    claims: {
      name: 'Alice Example', given_name: 'Alice', family_name: 'Example', preferred_username: 'alice',
      email: 'alice@example.org', email_verified: true, groups: ['staff', 'admin'],
      address: { country: 'NL', locality: 'Amsterdam' },
    },
  },
  bob: {
    password: 'bob-password',
    claims: {
      name: 'Bob Example', preferred_username: 'bob', email: 'bob@example.org', email_verified: false,
      groups: ['staff'],
    },
  },
  // A user with a large, incompressible identity (120 random group names, ~3 KB): her
  // session does not fit in one cookie (tests of cookie chunking).
  carol: {
    password: 'carol-password',
    claims: {
      name: 'Carol Example', preferred_username: 'carol', email: 'carol@example.org', email_verified: true,
      groups: Array.from({ length: 120 }, (_, i) => `group-${i}-${crypto.randomBytes(6).toString('hex')}`),
    },
  },
};

// Signing keys made at start: an RSA key (the default RS256) and a P-256 key.
function signingKey(type, options, alg, kid) {
  const { privateKey } = crypto.generateKeyPairSync(type, options);
  return { ...privateKey.export({ format: 'jwk' }), kid, alg, use: 'sig' };
}
const keys = [
  signingKey('rsa', { modulusLength: 2048 }, 'RS256', 'rsa-1'),
  signingKey('ec', { namedCurve: 'P-256' }, 'ES256', 'ec-1'),
];

const redirectUris = args['redirect-uri'];
const postLogoutUris = [
  ...args['post-logout-uri'],
  ...new Set(redirectUris.map((u) => `${new URL(u).origin}/`)),
];
const clientBase = {
  redirect_uris: redirectUris,
  post_logout_redirect_uris: postLogoutUris,
  grant_types: ['authorization_code', 'refresh_token'],
  response_types: ['code'],
};

const configuration = {
  clients: [
    {
      ...clientBase,
      client_id: 'test-client',
      client_secret: 'test-secret-0123456789abcdef0123456789',
      token_endpoint_auth_method: 'client_secret_basic',
      ...(args['backchannel-uri'] ? {
        backchannel_logout_uri: args['backchannel-uri'], backchannel_logout_session_required: true,
      } : {}),
    },
    {
      ...clientBase,
      client_id: 'post-client',
      client_secret: 'post-secret-0123456789abcdef0123456789',
      token_endpoint_auth_method: 'client_secret_post',
    },
    {
      ...clientBase,
      client_id: 'jwt-client',
      client_secret: 'jwt-secret-0123456789abcdef0123456789ab',
      token_endpoint_auth_method: 'client_secret_jwt',
    },
    { ...clientBase, client_id: 'public-client', token_endpoint_auth_method: 'none' },
    {
      client_id: 'api-client',
      client_secret: 'api-secret-0123456789abcdef0123456789ab',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
    },
    ...(args['client-key'] ? [{
      ...clientBase,
      client_id: 'pkjwt-client',
      token_endpoint_auth_method: 'private_key_jwt',
      jwks: {
        keys: [{
          ...crypto.createPublicKey(fs.readFileSync(args['client-key'])).export({ format: 'jwk' }),
          kid: 'pkjwt-1', use: 'sig',
        }],
      },
    }] : []),
  ],
  // PKCE is used when the RP sends it; the confidential clients may also log in
  // without it (to test `pkce off`). Public clients must use it.
  pkce: { required: (ctx, client) => client.clientAuthMethod === 'none' },
  features: {
    devInteractions: { enabled: false },
    claimsParameter: { enabled: true },
    introspection: { enabled: true },
    revocation: { enabled: true },
    rpInitiatedLogout: { enabled: true },
    backchannelLogout: { enabled: true },
    clientCredentials: { enabled: true },
    resourceIndicators: {
      enabled: true,
      defaultResource: () => undefined,
      useGrantedResource: () => true,
      getResourceServerInfo: (ctx, resourceIndicator) => ({
        scope: 'movies:read movies:write',
        audience: resourceIndicator,
        accessTokenFormat: args['access-token-format'] === 'jwt' ? 'jwt' : 'opaque',
        jwt: { sign: { alg: 'RS256' } },
      }),
    },
  },
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    address: ['address'],
    groups: ['groups'],
  },
  // A refresh token for every code grant of a client allowed the refresh_token grant
  // (oidc-provider's default wants offline_access and a consent prompt).
  issueRefreshToken: async (ctx, client) => client.grantTypeAllowed('refresh_token'),
  scopes: ['openid', 'offline_access', 'profile', 'email', 'address', 'groups'],
  conformIdTokenClaims: false,
  async findAccount(ctx, id) {
    const user = USERS[id];
    if (!user) return undefined;
    return {
      accountId: id,
      async claims() {
        return { sub: id, ...user.claims };
      },
    };
  },
  interactions: { url: (ctx, interaction) => `/interaction/${interaction.uid}` },
  jwks: { keys },
  cookies: { keys: ['test-op-cookie-key-0123456789'] },
  ttl: {
    AccessToken: Number(args['access-token-ttl']), AuthorizationCode: 120, IdToken: 3600, RefreshToken: 86400, Interaction: 600,
    Session: 86400, Grant: 86400, ClientCredentials: 600,
  },
  // oidc-provider refuses outgoing calls to special-use addresses (SSRF protection); the
  // test RPs listen on 127.0.0.1, so the back-channel logout calls go out without it.
  fetch(url, options) {
    const { dispatcher, ...rest } = options;
    return globalThis.fetch(url, rest);
  },
  renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = `<!DOCTYPE html><title>OP error</title><h1>${escape(out.error)}</h1><p>${escape(out.error_description || '')}</p>`;
  },
};

const provider = new Provider(issuer, configuration);
provider.proxy = false;
// Back-channel logout calls, for whoever reads op.out when a test fails.
provider.on('backchannel.success', (ctx, client, accountId, sid) => console.log(`backchannel logout of ${accountId} (sid ${sid}) to ${client.clientId}: ok`));
provider.on('backchannel.error', (ctx, err, client) => console.log(`backchannel logout to ${client.clientId} failed: ${err.message} ${err.cause?.code ?? ""} ${err.cause?.message ?? ""}`));

function escape(s) {
  return String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function loginPage(uid, error) {
  return `<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Sign in: test OpenID Provider</title>
<style>body{font-family:sans-serif;max-width:22em;margin:4em auto}input{display:block;width:100%;margin:.3em 0 1em;padding:.4em}</style>
</head><body>
<h1>Sign in</h1>
<p>Test OpenID Provider at ${escape(issuer)}. Users: alice / alice-password, bob / bob-password.</p>
${error ? `<p style="color:#b00" id="error">${escape(error)}</p>` : ''}
<form method="post" action="/interaction/${escape(uid)}/login" autocomplete="off">
<label>User <input name="login" autofocus></label>
<label>Password <input name="password" type="password"></label>
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${escape(uid)}/abort">Cancel</a></p>
</body></html>`;
}

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('form too large');
  }
  return new URLSearchParams(body);
}

// Our interactions: a checked login, then automatic consent for what was asked.
async function interaction(req, res, path) {
  const m = path.match(/^\/interaction\/([^/]+)(\/login|\/abort)?$/);
  if (!m) return false;
  const [, uid, action] = m;
  let details;
  try {
    details = await provider.interactionDetails(req, res);
  } catch (e) {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end(`interaction not found: ${e.message}\n`);
    return true;
  }
  if (details.uid !== uid) {
    res.writeHead(400, { 'Content-Type': 'text/plain' });
    res.end('interaction mismatch\n');
    return true;
  }
  if (action === '/abort') {
    await provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted the login',
    }, { mergeWithLastSubmission: false });
    return true;
  }
  const { prompt, params, session, grantId } = details;
  if (prompt.name === 'login') {
    if (req.method === 'POST' && action === '/login') {
      const form = await readForm(req);
      const user = USERS[form.get('login')];
      if (!user || user.password !== form.get('password')) {
        res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' });
        res.end(loginPage(uid, 'Wrong user or password.'));
        return true;
      }
      await provider.interactionFinished(req, res, {
        login: { accountId: form.get('login') },
      }, { mergeWithLastSubmission: false });
      return true;
    }
    res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    res.end(loginPage(uid));
    return true;
  }
  if (prompt.name === 'consent') {
    const grant = grantId
      ? await provider.Grant.find(grantId)
      : new provider.Grant({ accountId: session.accountId, clientId: params.client_id });
    const d = prompt.details;
    if (d.missingOIDCScope) grant.addOIDCScope(d.missingOIDCScope.join(' '));
    if (d.missingOIDCClaims) grant.addOIDCClaims(d.missingOIDCClaims);
    if (d.missingResourceScopes) {
      for (const [indicator, scope] of Object.entries(d.missingResourceScopes)) {
        grant.addResourceScope(indicator, scope.join(' '));
      }
    }
    await provider.interactionFinished(req, res, {
      consent: { grantId: await grant.save() },
    }, { mergeWithLastSubmission: true });
    return true;
  }
  res.writeHead(501, { 'Content-Type': 'text/plain' });
  res.end(`prompt ${prompt.name} not implemented\n`);
  return true;
}

// ---- The control API: counters and faults, per URL path (without query). ----

const state = { requests: {}, total: 0, delays: {}, fails: {}, headers: {}, issuer: null, last: {} };

function reset() {
  state.requests = {};
  state.total = 0;
  state.delays = {};
  state.fails = {};
  state.headers = {};
  state.issuer = null;
  state.last = {};
}

function ruleFor(map, path) {
  return map[path] ?? map['*'];
}

function control(req, res, url) {
  const q = url.searchParams;
  const what = url.pathname.slice('/__control/'.length);
  const path = q.get('path') || '*';
  switch (what) {
    case 'stats':
      break;
    case 'reset':
      reset();
      break;
    case 'delay':
      state.delays[path] = Number(q.get('ms') || 0);
      break;
    case 'fail':
      state.fails[path] = { status: Number(q.get('status') || 500), mode: q.get('mode') || 'status', error: q.get('error') };
      break;
    case 'header':
      state.headers[path] = { ...(state.headers[path] || {}), [q.get('name').toLowerCase()]: q.get('value') };
      break;
    case 'issuer':
      state.issuer = q.get('value');
      break;
    case 'last':
      // The method and headers of the last request to a path (its body goes to
      // oidc-provider unread).
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(state.last[path] || {}));
      return;
    case 'keys':
      // The public signing keys, for tests that need to know them.
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ keys }));
      return;
    default:
      res.writeHead(404, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify({ error: `unknown control ${what}` }));
      return;
  }
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.end(JSON.stringify({ requests: state.requests, total: state.total }));
}

// Overrides response headers (e.g. Cache-Control) after oidc-provider set its own.
function overrideHeaders(res, headers) {
  const writeHead = res.writeHead.bind(res);
  res.writeHead = (status, ...rest) => {
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    return writeHead(status, ...rest);
  };
}

// Rewrites the issuer of the discovery document (for issuer-mismatch tests).
function rewriteIssuer(res, newIssuer) {
  const chunks = [];
  const { write, end, setHeader } = res;
  res.setHeader = (name, value) => (name.toLowerCase() === 'content-length' ? res : setHeader.call(res, name, value));
  res.write = (chunk) => { chunks.push(Buffer.from(chunk)); return true; };
  res.end = (chunk) => {
    if (chunk) chunks.push(Buffer.from(chunk));
    let body = Buffer.concat(chunks).toString();
    try {
      const doc = JSON.parse(body);
      doc.issuer = newIssuer;
      body = JSON.stringify(doc);
    } catch { /* not JSON: leave it */ }
    res.write = write;
    res.removeHeader('content-length');
    return end.call(res, body);
  };
}

const callback = provider.callback();

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  if (url.pathname.startsWith('/__control/')) {
    control(req, res, url);
    return;
  }
  const path = url.pathname;
  state.requests[path] = (state.requests[path] || 0) + 1;
  state.total += 1;
  state.last[path] = { method: req.method, headers: req.headers };

  const delay = ruleFor(state.delays, path);
  if (delay) await new Promise((r) => setTimeout(r, delay));

  const fail = ruleFor(state.fails, path);
  if (fail) {
    if (fail.mode === 'close') {
      req.socket.destroy();
    } else if (fail.mode === 'garbage') {
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end('not json{');
    } else if (fail.error) {
      // An OAuth error answer (RFC 6749 5.2), e.g. invalid_grant or invalid_client.
      res.writeHead(fail.status, { 'Content-Type': 'application/json', 'Cache-Control': 'no-store' });
      res.end(JSON.stringify({ error: fail.error, error_description: 'injected' }));
    } else {
      res.writeHead(fail.status, { 'Content-Type': 'text/plain' });
      res.end(`injected failure ${fail.status}\n`);
    }
    return;
  }
  const headers = ruleFor(state.headers, path);
  if (headers) overrideHeaders(res, headers);
  if (state.issuer && path === '/.well-known/openid-configuration') rewriteIssuer(res, state.issuer);

  try {
    if (await interaction(req, res, path)) return;
  } catch (e) {
    console.error('interaction error', e);
    if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
    res.end('interaction error\n');
    return;
  }
  callback(req, res);
});

server.listen(port, '127.0.0.1', () => {
  console.log(`READY ${port}`);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    server.close();
    server.closeAllConnections?.();
    process.exit(0);
  });
}
