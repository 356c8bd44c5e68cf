// Bearer tokens for the benchmark, from the real test OP (t/op/server.js started with
// --access-token-format jwt).
//
//   node bench/tokens.mjs --op URL --count N --alg RS256|ES256 --out FILE
//
// RS256: N client_credentials grants at the OP's token endpoint (client api-client,
//        resource https://api.example.org, scope movies:read); every grant gives a new,
//        distinct JWT access token signed by the OP (kid rsa-1).
// ES256: the OP signs access tokens with RS256 only (server.js fixes jwt.sign.alg and
//        has no option for it), so ES256 tokens are minted here with the OP's own ec-1
//        private key (GET /__control/keys): one real grant gives the claims, each minted
//        token gets them with a fresh jti, signed ES256, kid ec-1, typ at+jwt.
// Writes one token per line to FILE; prints one line saying what it did.
import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({
  options: {
    op: { type: 'string' },
    count: { type: 'string', default: '1' },
    alg: { type: 'string', default: 'RS256' },
    out: { type: 'string' },
    parallel: { type: 'string', default: '16' },
  },
});
if (!a.op || !a.out) {
  console.error('usage: tokens.mjs --op URL --count N --alg RS256|ES256 --out FILE');
  process.exit(2);
}
const count = Number(a.count);

const CLIENT = 'api-client:api-secret-0123456789abcdef0123456789ab';
const BODY = 'grant_type=client_credentials&resource=https%3A%2F%2Fapi.example.org&scope=movies%3Aread';

async function grant() {
  const r = await fetch(`${a.op}/token`, {
    method: 'POST',
    headers: {
      Authorization: `Basic ${Buffer.from(CLIENT).toString('base64')}`,
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: BODY,
  });
  const text = await r.text();
  if (r.status !== 200) throw new Error(`token endpoint: ${r.status} ${text}`);
  const token = JSON.parse(text).access_token;
  if (token.split('.').length !== 3) throw new Error('the OP gave an opaque token: start it with --access-token-format jwt');
  return token;
}

const b64 = (buf) => Buffer.from(buf).toString('base64url');
const part = (s) => JSON.parse(Buffer.from(s, 'base64url').toString());

async function rs256() {
  const tokens = new Array(count);
  let next = 0;
  async function worker() {
    while (next < count) {
      const i = next++;
      tokens[i] = await grant();
    }
  }
  await Promise.all(Array.from({ length: Math.min(Number(a.parallel), count) }, worker));
  return { tokens, how: `${count} client_credentials grants at ${a.op}/token (RS256, kid rsa-1)` };
}

async function es256() {
  const [h, p] = (await grant()).split('.');
  const header = { ...part(h), alg: 'ES256', kid: 'ec-1' };
  const claims = part(p);
  const keys = (await (await fetch(`${a.op}/__control/keys`)).json()).keys;
  const jwk = keys.find((k) => k.kid === 'ec-1');
  if (!jwk) throw new Error('the OP has no key ec-1');
  const key = crypto.createPrivateKey({ key: jwk, format: 'jwk' });
  const head = b64(JSON.stringify(header));
  const tokens = [];
  for (let i = 0; i < count; i++) {
    const body = b64(JSON.stringify({ ...claims, jti: crypto.randomBytes(18).toString('base64url') }));
    const input = `${head}.${body}`;
    const sig = crypto.sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
    tokens.push(`${input}.${b64(sig)}`);
  }
  return {
    tokens,
    how: `${count} ES256 tokens minted with the OP's own ec-1 key from ${a.op}/__control/keys `
      + '(claims of a real grant, fresh jti each): the OP signs access tokens RS256 only',
  };
}

const t0 = Date.now();
const { tokens, how } = a.alg === 'ES256' ? await es256() : await rs256();
if (new Set(tokens).size !== tokens.length) throw new Error('tokens are not distinct');
fs.writeFileSync(a.out, tokens.join('\n') + '\n');
console.log(`tokens: ${how}, in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
