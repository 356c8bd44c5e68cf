// Mints a compact JWS for tests that need a token no honest OP would issue (expired,
// wrong audience, unknown kid, alg none, algorithm confusion ...), signed with a key the
// test chooses, typically the test OP's own private key from /__control/keys, so that
// only the claim under test is wrong.
//
//   node t/tools/mint-jwt.js --header JSON --claims JSON [--key JWK] [--secret=TEXT]
//                            [--count N]
//
// --header   the JOSE header as JSON; its "alg" chooses the signature:
//              RS256 / PS256 (RSA JWK with "d"), ES256 (P-256 JWK with "d"),
//              HS256 (--secret, or an "oct" JWK with "k"), none in any case (empty
//              signature)
// --claims   the payload as JSON (signed byte for byte as given after JSON parsing)
// --key      a private JWK, as JSON or @FILE
// --secret   the HMAC key as text (HS256): e.g. an RSA public key's PEM, to forge the
//            algorithm-confusion token; @FILE reads it from a file (bytes as they are).
//            Give it as --secret=TEXT: a PEM starts with dashes.
// --count    mint N tokens, one a line, that differ only in their jti claim (the given
//            jti, or "jti", with "-1" ... "-N" appended): for cache-pressure tests
//
// Prints the token (header.payload.signature) and a newline. No network, no state.

import crypto from 'node:crypto';
import fs from 'node:fs';
import { parseArgs } from 'node:util';

const { values: args } = parseArgs({
  options: {
    header: { type: 'string' },
    claims: { type: 'string' },
    key: { type: 'string' },
    secret: { type: 'string' },
    count: { type: 'string' },
  },
});

function fail(msg) {
  process.stderr.write(`mint-jwt: ${msg}\n`);
  process.exit(2);
}

function readArg(v) {
  return v.startsWith('@') ? fs.readFileSync(v.slice(1)) : Buffer.from(v);
}

const b64u = (buf) => Buffer.from(buf).toString('base64url');

if (!args.header || !args.claims) fail('--header and --claims are required');
const header = JSON.parse(args.header);
const claims = JSON.parse(args.claims);
const alg = String(header.alg ?? '');

function privateKey() {
  if (!args.key) fail(`alg ${alg} needs --key`);
  const jwk = JSON.parse(readArg(args.key).toString());
  return crypto.createPrivateKey({ key: jwk, format: 'jwk' });
}

let cachedKey;
function key() {
  cachedKey ??= privateKey();
  return cachedKey;
}

function sign(input) {
  let signature;
  switch (alg.toLowerCase() === 'none' ? 'none' : alg) {
    case 'none': // also "NONE", "None": refused however it is spelled
      signature = Buffer.alloc(0);
      break;
    case 'RS256':
    case 'RS384':
    case 'RS512':
      signature = crypto.sign(`sha${alg.slice(2)}`, Buffer.from(input), key());
      break;
    case 'PS256':
      signature = crypto.sign('sha256', Buffer.from(input), {
        key: key(), padding: crypto.constants.RSA_PKCS1_PSS_PADDING, saltLength: 32,
      });
      break;
    case 'ES256':
      signature = crypto.sign('sha256', Buffer.from(input), { key: key(), dsaEncoding: 'ieee-p1363' });
      break;
    case 'HS256':
    case 'HS384':
    case 'HS512': {
      let secret;
      if (args.secret !== undefined) secret = readArg(args.secret);
      else if (args.key) secret = Buffer.from(JSON.parse(readArg(args.key).toString()).k ?? '', 'base64url');
      else fail(`alg ${alg} needs --secret or an oct --key`);
      signature = crypto.createHmac(`sha${alg.slice(2)}`, secret).update(input).digest();
      break;
    }
    default:
      fail(`unsupported alg ${JSON.stringify(alg)}`);
  }
  return signature;
}

const count = args.count === undefined ? 0 : Number(args.count);
if (args.count !== undefined && !(Number.isInteger(count) && count > 0)) fail('--count must be a positive integer');
const out = [];
for (let i = 1; i <= Math.max(count, 1); i += 1) {
  const c = count ? { ...claims, jti: `${claims.jti ?? 'jti'}-${i}` } : claims;
  const input = `${b64u(JSON.stringify(header))}.${b64u(JSON.stringify(c))}`;
  out.push(`${input}.${b64u(sign(Buffer.from(input)))}`);
}
process.stdout.write(`${out.join('\n')}\n`);
