// A real SMTP server for the integration tests: smtp-server (npm, pinned by
// package-lock.json) on 127.0.0.1 that accepts only OAuth bearer tokens and
// checks each one against the OpenID provider (oidc.js) with token
// introspection (RFC 7662), as a mail provider does.
//
// Usage: node smtp.js --issuer URL --maildir DIR [options]
//   --issuer URL             the provider (its discovery document gives the
//                            introspection endpoint)
//   --maildir DIR            accepted messages are written here (see below)
//   --port N                 listener offering XOAUTH2 and OAUTHBEARER (0 = any)
//   --port-xoauth2-only N    listener offering only XOAUTH2 (0 = any); Debian
//                            12's curl picks OAUTHBEARER whenever it is offered
//   --client-id ID           introspection credentials (default smtp-server)
//   --client-secret S        (default smtp-server-secret)
//   --reject-rcpt ADDR       answer RCPT TO for ADDR with 550 5.1.1 (a
//                            recipient the server does not know)
//   --auth-reply "CODE TEXT" answer every AUTH with this reply, whatever the
//                            token, e.g. "535 5.7.139 Authentication
//                            unsuccessful, SmtpClientAuthentication is disabled
//                            for the Tenant" (for doctor tests)
//   --hide-8bitmime          leave 8BITMIME out of the EHLO reply, as a
//                            server that takes 7-bit data only (RFC 6152)
//   --tls-cert FILE --tls-key FILE
//                            TLS as mail providers do it: both listeners offer
//                            STARTTLS, and a third (--port-smtps N, 0 = any)
//                            speaks TLS from the start (SMTPS, port 465 in the
//                            world), offering XOAUTH2 and OAUTHBEARER
// When listening it prints one line on stdout:
//   READY {"port":N,"port_xoauth2_only":M,"port_smtps":S or null,"maildir":DIR}
//
// Without --tls-cert no TLS at all (no STARTTLS offered): loopback only;
// msmtp needs "tls off". With it, AUTH is still accepted before STARTTLS
// (allowInsecureAuth), so that clients which never start TLS keep working.
//
// A token is accepted when introspection says it is active, it is an access
// token (not a refresh token), and its subject or email equals the SASL user
// name; an app-only token (client_credentials, no subject) is accepted for
// any user when its scope holds mail.send, as Microsoft's SMTP.SendAsApp.
// A refused token gets "535 5.7.3 Authentication unsuccessful" (Microsoft's
// words). For XOAUTH2 that reply comes at once, as Microsoft sends it; for
// OAUTHBEARER the server first sends RFC 7628's error challenge (334 and a
// base64 JSON status), the client answers with a lone ^A, then the 535.
// If the provider cannot be reached the reply is 454 4.7.0 (temporary).
//
// OAUTHBEARER: smtp-server implements XOAUTH2 but not OAUTHBEARER. Its
// AUTH command looks a mechanism up as SASL["SASL_" + NAME] in the table its
// lib/sasl.js exports, calls it with the connection as `this`, and offers
// only the names listed in the authMethods option. We add SASL_OAUTHBEARER
// to that same table (the module is loaded once, so smtp-connection sees it)
// and list OAUTHBEARER in authMethods; the handler uses the connection's own
// calls (send, _nextHandler, _server.onAuth, session.user) exactly as the
// built-in SASL_XOAUTH2 does.
//
// Files in --maildir, written when a message is accepted:
//   msg-NNNN.eml   the message as received
//   msg-NNNN.json  {"user", "mechanism", "listener", "tls", "mail_from",
//                   "rcpt_to", "client_id", "scope", "time", "eml",
//                   "eightbit"} (tls: the session ran over TLS;
//                   eightbit: a byte above 0x7f came); written after the
//                   .eml, by rename, so a reader never sees half of it
//   auth.jsonl     one line per AUTH attempt: {"time", "listener", "tls",
//                   "mechanism", "user", "ok", "reply", "reason",
//                   "token_sha256" (first 16 hex digits)}

import { createHash } from 'node:crypto';
import {
  appendFileSync, mkdirSync, readFileSync, renameSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { SMTPServer } from 'smtp-server';
import SASL from 'smtp-server/lib/sasl.js';

const { values: opts } = parseArgs({
  options: {
    issuer: { type: 'string' },
    maildir: { type: 'string' },
    port: { type: 'string', default: '0' },
    'port-xoauth2-only': { type: 'string', default: '0' },
    'client-id': { type: 'string', default: 'smtp-server' },
    'client-secret': { type: 'string', default: 'smtp-server-secret' },
    'auth-reply': { type: 'string' },
    'reject-rcpt': { type: 'string' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'port-smtps': { type: 'string', default: '0' },
    'hide-8bitmime': { type: 'boolean', default: false },
  },
});

function die(msg) {
  console.error(`smtp.js: ${msg}`);
  process.exit(2);
}

if (!opts.issuer) die('--issuer is required');
if (!opts.maildir) die('--maildir is required');
mkdirSync(opts.maildir, { recursive: true });

if (!opts['tls-cert'] !== !opts['tls-key']) die('--tls-cert and --tls-key go together');
const tls = opts['tls-cert']
  ? { cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) }
  : undefined;

let forcedReply;
if (opts['auth-reply'] !== undefined) {
  const m = /^([245]\d\d)\s+(.*)$/.exec(opts['auth-reply']);
  if (!m) die('--auth-reply must be "CODE TEXT", e.g. "535 5.7.3 Authentication unsuccessful"');
  forcedReply = { code: Number(m[1]), text: m[2] };
}

const REFUSED = { code: 535, text: '5.7.3 Authentication unsuccessful' };
const TEMPFAIL = { code: 454, text: '4.7.0 Temporary authentication failure' };
const MAIL_SCOPE = 'mail.send';

function fingerprint(token) {
  return createHash('sha256').update(token || '').digest('hex').slice(0, 16);
}

function logAuth(entry) {
  appendFileSync(join(opts.maildir, 'auth.jsonl'),
    `${JSON.stringify({ time: Date.now() / 1000, ...entry })}\n`);
}

let introspectionEndpoint;

async function discover() {
  const url = `${opts.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
  let lastErr;
  for (let i = 0; i < 50; i += 1) {
    try {
      const res = await fetch(url);
      if (res.ok) {
        const doc = await res.json();
        if (!doc.introspection_endpoint) die(`${url} names no introspection_endpoint`);
        // Keep the issuer's host as given: discovery answers with the Host header.
        const ep = new URL(doc.introspection_endpoint);
        return new URL(ep.pathname, opts.issuer).toString();
      }
      lastErr = new Error(`HTTP ${res.status}`);
    } catch (err) {
      lastErr = err;
    }
    await new Promise((r) => { setTimeout(r, 100); });
  }
  return die(`cannot read ${url}: ${lastErr?.message}`);
}

// Returns {ok: true, info} or {ok: false, reason, temporary}.
async function checkToken(user, token) {
  const basic = Buffer.from(
    `${encodeURIComponent(opts['client-id'])}:${encodeURIComponent(opts['client-secret'])}`,
  ).toString('base64');
  let info;
  try {
    const res = await fetch(introspectionEndpoint, {
      method: 'POST',
      headers: {
        authorization: `Basic ${basic}`,
        'content-type': 'application/x-www-form-urlencoded',
        accept: 'application/json',
      },
      body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
      signal: AbortSignal.timeout(10000),
    });
    if (!res.ok) return { ok: false, temporary: true, reason: `introspection HTTP ${res.status}` };
    info = await res.json();
  } catch (err) {
    return { ok: false, temporary: true, reason: `introspection failed: ${err.message}` };
  }
  if (info.active !== true) return { ok: false, reason: 'token not active' };
  // oidc-provider reports token_type only for access tokens.
  if (!info.token_type) return { ok: false, reason: 'not an access token (refresh token?)' };
  if (info.exp && info.exp * 1000 <= Date.now()) return { ok: false, reason: 'token expired' };
  const scopes = new Set((info.scope || '').split(' '));
  if (info.sub === undefined) {
    if (!scopes.has(MAIL_SCOPE)) return { ok: false, reason: `app token without ${MAIL_SCOPE}` };
    return { ok: true, info };
  }
  const wanted = user.toLowerCase();
  if ((info.sub || '').toLowerCase() !== wanted && (info.email || '').toLowerCase() !== wanted) {
    return { ok: false, reason: `token belongs to ${info.email || info.sub}, not ${user}` };
  }
  return { ok: true, info };
}

function makeOnAuth(listener) {
  return function onAuth(auth, session, callback) {
    const base = {
      listener,
      tls: !!session.secure,
      mechanism: auth.method,
      user: auth.username,
      token_sha256: fingerprint(auth.accessToken),
    };
    const refuse = (reply, reason) => {
      logAuth({ ...base, ok: false, reply: `${reply.code} ${reply.text}`, reason });
      if (auth.method === 'OAUTHBEARER' && reply === REFUSED) {
        // RFC 7628 section 3.2.2: an error challenge, then the final 535.
        return callback(null, {
          data: { status: 'invalid_token', schemes: 'bearer', scope: MAIL_SCOPE },
        });
      }
      const err = new Error(reply.text);
      err.responseCode = reply.code;
      return callback(err);
    };
    if (forcedReply) return refuse(forcedReply, 'forced by --auth-reply');
    if (auth.method !== 'XOAUTH2' && auth.method !== 'OAUTHBEARER') {
      return refuse(REFUSED, `mechanism ${auth.method} not allowed`);
    }
    checkToken(auth.username, auth.accessToken).then((r) => {
      if (!r.ok) return refuse(r.temporary ? TEMPFAIL : REFUSED, r.reason);
      logAuth({ ...base, ok: true, reply: '235', reason: null });
      return callback(null, {
        user: {
          name: auth.username,
          mechanism: auth.method,
          client_id: r.info.client_id,
          scope: r.info.scope,
        },
      });
    }, (err) => refuse(TEMPFAIL, err.message));
    return undefined;
  };
}

// SASL OAUTHBEARER (RFC 7628) for smtp-server; see the header comment.
// The initial client response is a GS2 header and key/value pairs:
//   "n,a=user@example.com,^Ahost=...^Aport=...^Aauth=Bearer TOKEN^A^A"
function parseOauthbearer(b64) {
  const text = Buffer.from(b64, 'base64').toString();
  const m = /^([ny]|p=[^,]*),(a=[^,]*)?,\x01(.*)$/s.exec(text);
  if (!m) return undefined;
  const user = m[2] ? m[2].slice(2).replace(/=2C/g, ',').replace(/=3D/g, '=') : undefined;
  let token;
  for (const kv of m[3].split('\x01')) {
    const eq = kv.indexOf('=');
    if (eq > 0 && kv.slice(0, eq).toLowerCase() === 'auth') {
      const value = kv.slice(eq + 1);
      const sp = /^bearer\s+(.+)$/i.exec(value.trim());
      if (sp) token = sp[1];
    }
  }
  if (!user || !token) return undefined;
  return { user, token };
}

SASL.SASL_OAUTHBEARER = function saslOauthbearer(args, callback) {
  if (args.length > 1) {
    this.send(501, 'Error: syntax: AUTH OAUTHBEARER token');
    return callback();
  }
  if (!args.length) {
    this._nextHandler = SASL.OAUTHBEARER_token.bind(this, true);
    this.send(334);
    return callback();
  }
  return SASL.OAUTHBEARER_token.call(this, false, args[0], callback);
};

SASL.OAUTHBEARER_token = function oauthbearerToken(canAbort, rawToken, callback) {
  const token = (rawToken || '').toString().trim();
  if (canAbort && token === '*') {
    this.send(501, 'Authentication aborted');
    return callback();
  }
  const parsed = parseOauthbearer(token);
  if (!parsed || SASL.CONTROL_CHARS.test(parsed.user)) {
    this.send(501, 'Error: invalid userdata');
    return callback();
  }
  this._server.onAuth({
    method: 'OAUTHBEARER',
    username: parsed.user,
    accessToken: parsed.token,
  }, this.session, (err, response) => {
    if (err) {
      this.send(err.responseCode || 535, err.message);
      return callback();
    }
    if (!response || !response.user) {
      // The client must answer the error challenge with a lone ^A.
      this._nextHandler = SASL.OAUTHBEARER_error.bind(this);
      this.send(334, Buffer.from(JSON.stringify((response && response.data) || {})).toString('base64'));
      return callback();
    }
    this.session.user = response.user;
    this.session.transmissionType = this._transmissionType();
    this.send(235, 'Authentication successful');
    return callback();
  });
  return undefined;
};

SASL.OAUTHBEARER_error = function oauthbearerError(_data, callback) {
  this.send(REFUSED.code, REFUSED.text);
  return callback();
};

let counter = 0;

function makeOnData(listener) {
  return function onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('end', () => {
      if (stream.sizeExceeded) {
        const err = new Error('Message exceeds fixed maximum message size');
        err.responseCode = 552;
        return callback(err);
      }
      counter += 1;
      const base = `msg-${String(counter).padStart(4, '0')}`;
      const eml = `${base}.eml`;
      writeFileSync(join(opts.maildir, eml), Buffer.concat(chunks));
      const meta = {
        user: session.user?.name,
        mechanism: session.user?.mechanism,
        client_id: session.user?.client_id,
        scope: session.user?.scope,
        listener,
        tls: !!session.secure,
        mail_from: session.envelope.mailFrom ? session.envelope.mailFrom.address : null,
        rcpt_to: session.envelope.rcptTo.map((r) => r.address),
        time: Date.now() / 1000,
        eml,
        eightbit: Buffer.concat(chunks).some((b) => b > 0x7f),
      };
      const tmp = join(opts.maildir, `.${base}.json.tmp`);
      writeFileSync(tmp, `${JSON.stringify(meta)}\n`);
      renameSync(tmp, join(opts.maildir, `${base}.json`));
      return callback(null, `2.0.0 Ok: queued as ${base}`);
    });
  };
}

// implicitTls: TLS from the first byte (SMTPS). Otherwise STARTTLS is
// offered when we have a certificate, and not at all without one.
function startListener(listener, authMethods, port, implicitTls = false) {
  const server = new SMTPServer({
    name: 'smtp.test.invalid',
    banner: 'xoauth-agent test SMTP server',
    authMethods,
    allowInsecureAuth: true,
    ...(tls ? { ...tls, secure: implicitTls } : { disabledCommands: ['STARTTLS'], hideSTARTTLS: true }),
    size: 10 * 1024 * 1024,
    logger: false,
    disableReverseLookup: true,
    hide8BITMIME: opts['hide-8bitmime'],
    onAuth: makeOnAuth(listener),
    onRcptTo(address, session, callback) {
      if (opts['reject-rcpt'] && address.address.toLowerCase() === opts['reject-rcpt'].toLowerCase()) {
        const err = new Error('5.1.1 Recipient address rejected: User unknown');
        err.responseCode = 550;
        return callback(err);
      }
      return callback();
    },
    onData: makeOnData(listener),
  });
  server.on('error', (err) => console.error(`smtp.js (${listener}): ${err.message}`));
  return new Promise((resolve, reject) => {
    server.server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve(server));
  });
}

function parsePort(v, name) {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) die(`bad ${name} ${JSON.stringify(v)}`);
  return n;
}

introspectionEndpoint = await discover();
const both = await startListener('both', ['XOAUTH2', 'OAUTHBEARER'], parsePort(opts.port, '--port'));
const xoauth2Only = await startListener('xoauth2_only', ['XOAUTH2'],
  parsePort(opts['port-xoauth2-only'], '--port-xoauth2-only'));
const smtps = tls
  ? await startListener('smtps', ['XOAUTH2', 'OAUTHBEARER'], parsePort(opts['port-smtps'], '--port-smtps'), true)
  : undefined;

process.stdout.write(`READY ${JSON.stringify({
  port: both.server.address().port,
  port_xoauth2_only: xoauth2Only.server.address().port,
  port_smtps: smtps ? smtps.server.address().port : null,
  maildir: opts.maildir,
  introspection_endpoint: introspectionEndpoint,
})}\n`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
