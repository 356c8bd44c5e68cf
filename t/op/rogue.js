// The rogue OpenID Provider: a small scriptable OP that issues the ID tokens no honest
// OP would (bad signatures, wrong issuer, expired, alg none, ...), so the end-to-end
// suites can check every rule of OpenID Connect Core 3.1.3.7 against the real module.
// Node's own crypto only, no npm packages.
//
//   node t/op/rogue.js --port PORT [--no-end-session]
//
// Prints "READY <port>" once listening; stops on SIGTERM/SIGINT.
//
// Endpoints:
//   /.well-known/openid-configuration   discovery; query parameters change it (so each
//        nginx provider block can have its own, via config_url):
//          algs=RS256,ES256   id_token_signing_alg_values_supported
//          end_session=0      no end_session_endpoint
//          auth_methods=...   token_endpoint_auth_methods_supported
//          iss_supported=0    authorization_response_iss_parameter_supported false
//          issuer=...         the issuer it claims (a mismatch, or text meant for the log)
//          issuer_template=1  issuer ISSUER/{tenantid}/v2.0 (Entra's multi-tenant form)
//   /jwks       the published public keys (rsa-1, ps-1, ec-1, ed-1; rsa-2 when the
//               scenario publishes it)
//   /authorize  remembers nonce, PKCE challenge, client and redirect_uri under a fresh
//               code, then 302s straight back: redirect_uri?code=&state=[&iss=]
//   /token      the code grant: checks the code, redirect_uri and PKCE verifier, then
//               answers with an ID token made from the scenario
//   /userinfo   the scenario's userinfo (default: the ID token's sub and email)
//   /logout     end_session_endpoint: records the request, redirects to
//               post_logout_redirect_uri (with state) or shows a page
//   /frame?src=URL   a page of the OP that frames URL (front-channel logout)
//   /revoke     revocation_endpoint (RFC 7009; left out with revocation=0): records the
//               request, answers the scenario's revoke_status (default 200)
//   /moved/...  the endpoint named by the rest of the path (/moved/jwks is /jwks), so a
//               redirect can point to a URL whose requests are counted apart
//
// Control API (not counted in stats):
//   POST /__control/scenario   JSON body, replaces the scenario (see DEFAULTS below)
//   GET  /__control/stats      {"requests": {"<path>": n}, "total": n}
//   GET  /__control/reset      clears counters and recorded requests (not the scenario)
//   GET  /__control/last?path=/token   the last request to a path: method, url, headers, body
//   GET  /__control/keys       the public keys and the RSA public key PEM
//   POST /__control/mint       {"claims": {...}, "key": "rsa", "header": {...}}: a JWT signed
//                              as the scenario would sign it (logout tokens for each rule)

import http from 'node:http';
import crypto from 'node:crypto';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string' },
    'no-end-session': { type: 'boolean', default: false },
  },
});
const port = Number(args.port);
if (!port) {
  console.error('usage: rogue.js --port PORT [--no-end-session]');
  process.exit(2);
}
const issuer = `http://127.0.0.1:${port}`;

// ---- Keys ----

function keyPair(type, options) {
  return crypto.generateKeyPairSync(type, options);
}
const KEYS = {
  rsa: { ...keyPair('rsa', { modulusLength: 2048 }), kid: 'rsa-1', alg: 'RS256' },
  ps: { ...keyPair('rsa', { modulusLength: 2048 }), kid: 'ps-1', alg: 'PS256' },
  ec: { ...keyPair('ec', { namedCurve: 'P-256' }), kid: 'ec-1', alg: 'ES256' },
  ed: { ...keyPair('ed25519'), kid: 'ed-1', alg: 'EdDSA' },
  // Published only when the scenario says so (key rotation).
  rsa2: { ...keyPair('rsa', { modulusLength: 2048 }), kid: 'rsa-2', alg: 'RS256' },
  // Never published: signs with kid rsa-1 by default (a forged signature).
  other: { ...keyPair('rsa', { modulusLength: 2048 }), kid: 'rsa-1', alg: 'RS256' },
};
const RSA_PUBLIC_PEM = KEYS.rsa.publicKey.export({ type: 'spki', format: 'pem' });

function publicJwk(name) {
  const k = KEYS[name];
  return { ...k.publicKey.export({ format: 'jwk' }), kid: k.kid, alg: k.alg, use: 'sig' };
}

// ---- The scenario: what the next ID tokens look like ----

const DEFAULTS = {
  key: 'rsa',            // rsa | ps | ec | ed | rsa2 | other | hs-secret | hs-rsa-pem | none
  header: {},            // header overrides; null deletes (e.g. {"kid": "nope"}, {"typ": "at+jwt"})
  claims: {},            // claim overrides; null deletes (e.g. {"iss": "...", "iat": null})
  nonce: 'echo',         // echo (the authorization request's) | wrong | omit
  at_hash: 'omit',       // omit | correct | wrong
  tamper: null,          // "signature": flip a bit of the signature; "payload": change sub after signing
  hs_secret: null,       // HMAC key for hs-secret; default: the client secret the RP sent
  iss_param: 'correct',  // the authorization response's iss (RFC 9207): correct | omit | a URL
  authorize_error: null, // e.g. "access_denied": the authorization response is an error
  token_error: null,     // {"status": 400, "body": {...}} or {"status": 500, "raw": "..."}
  token_extra: {},       // more / overridden token response members; null deletes
  token_padding: 0,      // bytes of padding in the token response (a member "padding")
  publish: ['rsa', 'ps', 'ec', 'ed'],   // keys in /jwks
  userinfo: null,        // the userinfo response (default {sub, email})
  sub: 'rogue-user',
  redirect: {},          // {"/jwks": {"status": 301, "location": "http://..."}}: answer a path with a redirect
  revoke_status: 200,    // the revocation endpoint's answer
};
let scenario = { ...DEFAULTS };

const state = { requests: {}, total: 0, last: {} };
const codes = new Map();   // code -> { nonce, client_id, redirect_uri, challenge, method, used }
const tokens = new Map();  // access token -> claims (for userinfo)

// ---- JOSE ----

const b64u = (buf) => Buffer.from(buf).toString('base64url');

function applyOverrides(base, over) {
  const out = { ...base };
  for (const [k, v] of Object.entries(over || {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function sign(keyName, input, clientSecret) {
  const data = Buffer.from(input);
  switch (keyName) {
    case 'none':
      return Buffer.alloc(0);
    case 'hs-secret':
      return crypto.createHmac('sha256', scenario.hs_secret ?? clientSecret ?? '').update(data).digest();
    case 'hs-rsa-pem':
      // Algorithm confusion: HMAC keyed with the OP's published RSA public key.
      return crypto.createHmac('sha256', RSA_PUBLIC_PEM).update(data).digest();
    default: {
      const k = KEYS[keyName];
      if (!k) throw new Error(`unknown key ${keyName}`);
      if (k.alg === 'EdDSA') return crypto.sign(null, data, k.privateKey);
      if (k.alg === 'ES256') return crypto.sign('sha256', data, { key: k.privateKey, dsaEncoding: 'ieee-p1363' });
      if (k.alg === 'PS256') {
        return crypto.sign('sha256', data, {
          key: k.privateKey, padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
        });
      }
      return crypto.sign('sha256', data, k.privateKey);
    }
  }
}

function defaultHeader(keyName) {
  if (keyName === 'none') return { alg: 'none' };
  if (keyName === 'hs-secret') return { alg: 'HS256' };
  if (keyName === 'hs-rsa-pem') return { alg: 'HS256', kid: KEYS.rsa.kid };
  return { alg: KEYS[keyName].alg, kid: KEYS[keyName].kid };
}

function jwt(claims, clientSecret) {
  const header = applyOverrides({ typ: 'JWT', ...defaultHeader(scenario.key) }, scenario.header);
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(claims))}`;
  const sig = sign(scenario.key, input, clientSecret);
  if (scenario.tamper === 'signature' && sig.length) sig[sig.length >> 1] ^= 1;
  if (scenario.tamper === 'payload') {
    // The claims changed after signing (sub became "admin"), the signature kept.
    return `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify({ ...claims, sub: 'admin' }))}.${b64u(sig)}`;
  }
  return `${input}.${b64u(sig)}`;
}

function atHash(accessToken) {
  return b64u(crypto.createHash('sha256').update(accessToken).digest().subarray(0, 16));
}

// ---- HTTP ----

async function readBody(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 65536) throw new Error('body too large');
  }
  return body;
}

function send(res, status, body, headers = {}) {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': typeof body === 'string' ? 'text/html; charset=utf-8' : 'application/json',
    'Cache-Control': 'no-store',
    ...headers,
  });
  res.end(text);
}

function discovery(url) {
  const q = url.searchParams;
  const doc = {
    issuer,
    authorization_endpoint: `${issuer}/authorize`,
    token_endpoint: `${issuer}/token`,
    userinfo_endpoint: `${issuer}/userinfo`,
    jwks_uri: `${issuer}/jwks`,
    response_types_supported: ['code'],
    response_modes_supported: ['query', 'form_post'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported:
      q.get('algs') ? q.get('algs').split(',') : ['RS256', 'PS256', 'ES256', 'EdDSA', 'HS256'],
    token_endpoint_auth_methods_supported: q.get('auth_methods')
      ? q.get('auth_methods').split(',')
      : ['client_secret_basic', 'client_secret_post', 'client_secret_jwt', 'private_key_jwt', 'none'],
    code_challenge_methods_supported: ['S256'],
    scopes_supported: ['openid', 'profile', 'email'],
    authorization_response_iss_parameter_supported: q.get('iss_supported') !== '0',
  };
  if (!args['no-end-session'] && q.get('end_session') !== '0') doc.end_session_endpoint = `${issuer}/logout`;
  if (q.get('revocation') !== '0') doc.revocation_endpoint = `${issuer}/revoke`;
  if (q.get('issuer')) doc.issuer = q.get('issuer');
  // A multi-tenant document, as Microsoft Entra's /common and /organizations publish:
  // the issuer is a template; tokens name their tenant (scenario claims iss and tid).
  if (q.get('issuer_template') === '1') doc.issuer = `${issuer}/{tenantid}/v2.0`;
  return doc;
}

function authorize(res, url) {
  const q = url.searchParams;
  const redirect = q.get('redirect_uri');
  if (!redirect) return send(res, 400, { error: 'invalid_request', error_description: 'no redirect_uri' });
  const back = new URL(redirect);
  if (scenario.authorize_error) {
    back.searchParams.set('error', scenario.authorize_error);
    back.searchParams.set('error_description', 'the rogue OP says no');
  } else {
    const code = crypto.randomBytes(24).toString('base64url');
    codes.set(code, {
      nonce: q.get('nonce'), client_id: q.get('client_id'), redirect_uri: redirect,
      challenge: q.get('code_challenge'), method: q.get('code_challenge_method'), used: false,
    });
    back.searchParams.set('code', code);
  }
  if (q.has('state')) back.searchParams.set('state', q.get('state'));
  if (scenario.iss_param === 'correct') back.searchParams.set('iss', issuer);
  else if (scenario.iss_param && scenario.iss_param !== 'omit') back.searchParams.set('iss', scenario.iss_param);
  res.writeHead(302, { Location: back.toString(), 'Cache-Control': 'no-store' });
  res.end();
}

// The client secret the RP authenticated with (basic or post), if any.
function clientSecretOf(req, form) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('Basic ')) {
    const [, secret] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
    return decodeURIComponent(secret ?? '');
  }
  return form.get('client_secret') ?? undefined;
}

function clientIdOf(req, form) {
  const auth = req.headers.authorization || '';
  if (auth.startsWith('Basic ')) return decodeURIComponent(Buffer.from(auth.slice(6), 'base64').toString().split(':')[0]);
  return form.get('client_id');
}

function token(req, res, body) {
  const form = new URLSearchParams(body);
  if (scenario.token_error) {
    const e = scenario.token_error;
    if (e.raw !== undefined) return send(res, e.status || 500, e.raw, { 'Content-Type': 'text/plain' });
    return send(res, e.status || 400, e.body || { error: 'invalid_grant' });
  }
  const grant = codes.get(form.get('code'));
  if (form.get('grant_type') !== 'authorization_code' || !grant || grant.used) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'unknown or used code' });
  }
  grant.used = true;
  if (form.get('redirect_uri') !== grant.redirect_uri) {
    return send(res, 400, { error: 'invalid_grant', error_description: 'redirect_uri mismatch' });
  }
  if (grant.challenge) {
    const verifier = form.get('code_verifier') || '';
    const expected = b64u(crypto.createHash('sha256').update(verifier).digest());
    if (grant.method !== 'S256' || expected !== grant.challenge) {
      return send(res, 400, { error: 'invalid_grant', error_description: 'PKCE verification failed' });
    }
  }
  const clientId = clientIdOf(req, form) || grant.client_id;
  const now = Math.floor(Date.now() / 1000);
  const accessToken = crypto.randomBytes(24).toString('base64url');
  let claims = {
    iss: issuer, sub: scenario.sub, aud: clientId, exp: now + 300, iat: now, auth_time: now,
    email: 'rogue@example.org', name: 'Rogue User',
  };
  if (scenario.nonce === 'echo' && grant.nonce) claims.nonce = grant.nonce;
  else if (scenario.nonce === 'wrong') claims.nonce = 'not-the-nonce-that-was-sent';
  if (scenario.at_hash === 'correct') claims.at_hash = atHash(accessToken);
  else if (scenario.at_hash === 'wrong') claims.at_hash = atHash(`${accessToken}x`);
  claims = applyOverrides(claims, scenario.claims);
  tokens.set(accessToken, claims);
  const response = applyOverrides({
    access_token: accessToken, token_type: 'Bearer', expires_in: 300,
    id_token: jwt(claims, clientSecretOf(req, form)), scope: 'openid',
  }, scenario.token_extra);
  if (scenario.token_padding) response.padding = 'x'.repeat(scenario.token_padding);
  return send(res, 200, response);
}

function userinfo(req, res) {
  const auth = req.headers.authorization || '';
  const claims = tokens.get(auth.replace(/^Bearer\s+/i, ''));
  if (!claims) return send(res, 401, { error: 'invalid_token' }, { 'WWW-Authenticate': 'Bearer error="invalid_token"' });
  return send(res, 200, scenario.userinfo ?? { sub: claims.sub, email: claims.email });
}

function logout(res, url) {
  const target = url.searchParams.get('post_logout_redirect_uri');
  if (target) {
    const back = new URL(target);
    if (url.searchParams.has('state')) back.searchParams.set('state', url.searchParams.get('state'));
    res.writeHead(302, { Location: back.toString() });
    res.end();
    return;
  }
  send(res, 200, '<!DOCTYPE html><title>Signed out</title><p>Signed out of the rogue OP.</p>');
}

function control(req, res, url, body) {
  const what = url.pathname.slice('/__control/'.length);
  switch (what) {
    case 'scenario': {
      if (req.method === 'POST') {
        let s;
        try {
          s = JSON.parse(body || '{}');
        } catch (e) {
          return send(res, 400, { error: `bad scenario JSON: ${e.message}` });
        }
        const unknown = Object.keys(s).filter((k) => !(k in DEFAULTS));
        if (unknown.length) return send(res, 400, { error: `unknown scenario keys: ${unknown.join(', ')}` });
        if (s.key && !(s.key in KEYS) && !['hs-secret', 'hs-rsa-pem', 'none'].includes(s.key)) {
          return send(res, 400, { error: `unknown key ${s.key}` });
        }
        scenario = { ...DEFAULTS, ...s };
      }
      return send(res, 200, scenario);
    }
    case 'stats':
      return send(res, 200, { requests: state.requests, total: state.total });
    case 'reset':
      state.requests = {};
      state.total = 0;
      state.last = {};
      return send(res, 200, { requests: state.requests, total: state.total });
    case 'last':
      return send(res, 200, state.last[url.searchParams.get('path') || '/token'] || {});
    case 'keys':
      return send(res, 200, { keys: Object.keys(KEYS).map(publicJwk), rsa_public_pem: RSA_PUBLIC_PEM });
    case 'mint': {
      let m;
      try {
        m = JSON.parse(body || '{}');
      } catch (e) {
        return send(res, 400, { error: `bad mint JSON: ${e.message}` });
      }
      const saved = scenario;
      scenario = { ...scenario, key: m.key || 'rsa', header: m.header || {}, tamper: m.tamper || null };
      try {
        return send(res, 200, { token: jwt(m.claims || {}, m.client_secret) });
      } finally {
        scenario = saved;
      }
    }
    default:
      return send(res, 404, { error: `unknown control ${what}` });
  }
}

const server = http.createServer(async (req, res) => {
  const url = new URL(req.url, issuer);
  let body = '';
  try {
    body = await readBody(req);
  } catch {
    return send(res, 413, { error: 'too large' });
  }
  if (url.pathname.startsWith('/__control/')) return control(req, res, url, body);
  const path = url.pathname;
  state.requests[path] = (state.requests[path] || 0) + 1;
  state.total += 1;
  state.last[path] = { method: req.method, url: req.url, headers: req.headers, body };
  const moved = scenario.redirect?.[path];
  if (moved) {
    res.writeHead(moved.status || 302, { Location: moved.location, 'Cache-Control': 'no-store' });
    res.end();
    return undefined;
  }
  try {
    switch (path.startsWith('/moved/') ? path.slice('/moved'.length) : path) {
      case '/.well-known/openid-configuration':
        return send(res, 200, discovery(url), { 'Cache-Control': 'max-age=3600' });
      case '/jwks':
        return send(res, 200, { keys: scenario.publish.map(publicJwk) }, { 'Cache-Control': 'max-age=3600' });
      case '/authorize':
        return authorize(res, url);
      case '/token':
        if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
        return token(req, res, body);
      case '/userinfo':
        return userinfo(req, res);
      case '/logout':
        return logout(res, url);
      case '/frame': {
        const src = url.searchParams.get('src') || '';
        const esc = src.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
        return send(res, 200, `<!DOCTYPE html><title>Signing out</title><iframe src="${esc}"></iframe>`);
      }
      case '/revoke':
        if (req.method !== 'POST') return send(res, 405, { error: 'invalid_request' });
        return send(res, scenario.revoke_status, scenario.revoke_status === 200 ? '' : { error: 'server_error' });
      default:
        return send(res, 404, { error: 'not_found' });
    }
  } catch (e) {
    console.error('rogue error', e);
    if (!res.headersSent) send(res, 500, { error: 'server_error', error_description: e.message });
    return undefined;
  }
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
