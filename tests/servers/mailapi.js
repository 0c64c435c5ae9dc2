// A stand-in for Microsoft Graph's sendMail and the Gmail API's
// users.messages.send, for the integration tests: the real services cannot
// be reached from a test, so this HTTPS server on 127.0.0.1 implements the
// request contract their documentation gives, and checks the bearer token
// with the test provider's introspection endpoint (RFC 7662), as smtp.js does.
//
//   Graph:  POST /graph/v1.0/me/sendMail  (or /graph/v1.0/users/{id}/sendMail)
//           Content-Type: text/plain, body: the MIME message in base64.
//           202 Accepted, no body.  Errors as Graph sends them:
//           {"error": {"code": ..., "message": ...}}:
//             401 InvalidAuthenticationToken  the token is not active
//             403 ErrorAccessDenied           the token lacks --graph-scope
//             400 ErrorMimeContentInvalidBase64String  the body is no base64
//             400 ErrorMimeContentInvalid      no recipients in the MIME
//             415 on another content type
//           413 when the body is over 4 MB (4194304 bytes): "S/MIME
//           message payloads are currently limited to 4 MB. Submission
//           attempts that exceed this limit will result in an HTTP 413"
//           (Create message; sendMail takes the same body).  The status is
//           documented; the code in its body is ours.
//   Gmail:  POST /gmail/v1/users/me/messages/send
//           Content-Type: application/json, {"raw": base64url(message)};
//           or the media upload (uploads guide; the discovery document's
//           mediaUpload: accept message/*, maxSize 36700160):
//           POST /upload/gmail/v1/users/me/messages/send?uploadType=media
//           with the message itself and a message/* Content-Type; over
//           36700160 bytes 413.
//           200 {"id", "threadId", "labelIds": ["SENT"]}.  Errors as Google
//           sends them: {"error": {"code", "message", "status", "errors":
//           [{"reason", ...}]}}: 401 UNAUTHENTICATED, 403 PERMISSION_DENIED
//           (insufficientPermissions) without --gmail-scope, 400
//           INVALID_ARGUMENT (invalidArgument) for a bad body, another
//           uploadType or media type, or "Recipient address required".
// Both send to the To, Cc and Bcc of the message (mailparser decodes it).
//
// Fault injection, for what the real services do and the test provider
// cannot make them do on demand: POST /_faults {"status": 429,
// "retry_after": 1, "count": 1} queues replies that come before any check,
// as a throttled service answers (429 with Retry-After, 503), or as Graph
// refuses a token its tenant revoked while the grant lives on (401; the
// test provider revokes the whole grant with any of its tokens).
// GET /_requests lists every request seen (with its query and size).
//
// Usage: node mailapi.js --issuer URL --maildir DIR --cert PEM --key PEM
//          [--port N] [--graph-scope S] [--gmail-scope S]
// Prints READY {"port": N, "graph": URL, "gmail": URL} when listening.
// Accepted messages: DIR/api-NNNN.eml (decoded) and DIR/api-NNNN.json
// {"api", "path", "user", "scope", "content_type", "to", "cc", "bcc", "eml"}.

import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import { simpleParser } from 'mailparser';

const { values: opts } = parseArgs({
  options: {
    issuer: { type: 'string' },
    maildir: { type: 'string' },
    cert: { type: 'string' },
    key: { type: 'string' },
    port: { type: 'string', default: '0' },
    'graph-scope': { type: 'string', default: 'mail.api' },
    'gmail-scope': { type: 'string', default: 'mail.send' },
    'client-id': { type: 'string', default: 'smtp-server' },
    'client-secret': { type: 'string', default: 'smtp-server-secret' },
  },
});

function die(msg) {
  console.error(`mailapi.js: ${msg}`);
  process.exit(2);
}
for (const k of ['issuer', 'maildir', 'cert', 'key']) if (!opts[k]) die(`--${k} is required`);
mkdirSync(opts.maildir, { recursive: true });

// The services' limits (above).
const GRAPH_MAX = 4 * 1024 * 1024;
const GMAIL_MAX = 36700160;

const faults = [];
const requests = [];
let counter = 0;

async function introspect(token) {
  const basic = Buffer.from(`${opts['client-id']}:${opts['client-secret']}`).toString('base64');
  const res = await fetch(`${opts.issuer.replace(/\/$/, '')}/token/introspection`, {
    method: 'POST',
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ token, token_type_hint: 'access_token' }).toString(),
    signal: AbortSignal.timeout(10000),
  });
  if (!res.ok) throw new Error(`introspection HTTP ${res.status}`);
  return res.json();
}

function reply(res, status, body, headers = {}) {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

// The error bodies of each service, as documented.
function graphError(res, status, code, message, headers) {
  reply(res, status, { error: { code, message, innerError: { date: new Date().toISOString() } } }, headers);
}
function gmailError(res, status, gstatus, reason, message, headers) {
  reply(res, status, {
    error: { code: status, message, status: gstatus, errors: [{ message, domain: 'global', reason }] },
  }, headers);
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

const addrs = (a) => (a ? (Array.isArray(a) ? a : [a]).flatMap((x) => x.value.map((v) => v.address)) : []);

async function store(api, req, info, mime) {
  const parsed = await simpleParser(mime);
  const to = addrs(parsed.to); const cc = addrs(parsed.cc); const bcc = addrs(parsed.bcc);
  if (to.length + cc.length + bcc.length === 0) return null;
  counter += 1;
  const base = `api-${String(counter).padStart(4, '0')}`;
  writeFileSync(join(opts.maildir, `${base}.eml`), mime);
  const meta = {
    api, path: req.url, user: info.email || info.sub, scope: info.scope, client_id: info.client_id,
    content_type: req.headers['content-type'], to, cc, bcc, subject: parsed.subject,
    eml: `${base}.eml`, time: Date.now() / 1000,
  };
  const tmp = join(opts.maildir, `.${base}.json.tmp`);
  writeFileSync(tmp, `${JSON.stringify(meta)}\n`);
  renameSync(tmp, join(opts.maildir, `${base}.json`));
  return base;
}

async function handle(req, res) {
  const url = new URL(req.url, 'https://127.0.0.1');
  if (req.method === 'POST' && url.pathname === '/_faults') {
    const f = JSON.parse((await readBody(req)).toString() || '{}');
    for (let i = 0; i < (f.count || 1); i += 1) faults.push(f);
    return reply(res, 200, { queued: faults.length });
  }
  if (req.method === 'GET' && url.pathname === '/_requests') return reply(res, 200, requests);

  const graph = /^\/graph\/v1\.0\/(me|users\/[^/]+)\/sendMail$/.exec(url.pathname);
  const upload = url.pathname === '/upload/gmail/v1/users/me/messages/send';
  const gmail = upload || url.pathname === '/gmail/v1/users/me/messages/send';
  const body = await readBody(req);
  const auth = /^Bearer (.+)$/.exec(req.headers.authorization || '');
  const seen = {
    method: req.method, path: url.pathname, query: url.search,
    content_type: req.headers['content-type'] || null,
    token_sha256: auth ? createHash('sha256').update(auth[1]).digest('hex').slice(0, 16) : null,
    bytes: body.length, time: Date.now() / 1000,
  };
  requests.push(seen);
  const answer = (status) => { seen.status = status; };
  if (req.method !== 'POST' || (!graph && !gmail)) { answer(404); return reply(res, 404, { error: { code: 'NotFound', message: 'no such API here' } }); }
  const api = graph ? 'graph' : 'gmail';

  // Injected first: a throttled service answers before it looks.
  const f = faults.shift();
  if (f) {
    answer(f.status);
    const headers = f.retry_after !== undefined ? { 'retry-after': String(f.retry_after) } : {};
    if (api === 'graph') return graphError(res, f.status, f.code || 'ApplicationThrottled', 'injected fault', headers);
    if (f.status === 401) return gmailError(res, 401, 'UNAUTHENTICATED', 'authError', 'injected fault', headers);
    return gmailError(res, f.status, f.status === 429 ? 'RESOURCE_EXHAUSTED' : 'UNAVAILABLE', f.status === 429 ? 'rateLimitExceeded' : 'backendError', 'injected fault', headers);
  }

  let info;
  try {
    info = auth ? await introspect(auth[1]) : { active: false };
  } catch (err) {
    answer(503);
    return reply(res, 503, { error: { code: 'ServiceUnavailable', message: err.message } });
  }
  const scopes = new Set((info.scope || '').split(' '));
  const need = api === 'graph' ? opts['graph-scope'] : opts['gmail-scope'];
  if (info.active !== true || !info.token_type) {
    answer(401);
    if (api === 'graph') return graphError(res, 401, 'InvalidAuthenticationToken', 'Access token validation failure. Invalid audience.');
    return gmailError(res, 401, 'UNAUTHENTICATED', 'authError', 'Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.');
  }
  if (!scopes.has(need)) {
    answer(403);
    if (api === 'graph') return graphError(res, 403, 'ErrorAccessDenied', 'Access is denied. Check credentials and try again.');
    return gmailError(res, 403, 'PERMISSION_DENIED', 'insufficientPermissions', 'Request had insufficient authentication scopes.');
  }

  let mime;
  if (api === 'graph') {
    if (body.length > GRAPH_MAX) { answer(413); return graphError(res, 413, 'RequestEntityTooLarge', 'The maximum request length supported is 4MB.'); }
    if (!/^text\/plain\b/.test(seen.content_type || '')) { answer(415); return graphError(res, 415, 'UnsupportedMediaType', 'Content-Type must be text/plain for MIME content.'); }
    const text = body.toString('latin1').trim();
    if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text) || text.length % 4 !== 0) {
      answer(400);
      return graphError(res, 400, 'ErrorMimeContentInvalidBase64String', 'Invalid base64 string for MIME content.');
    }
    mime = Buffer.from(text, 'base64');
  } else if (upload) {
    if (url.searchParams.get('uploadType') !== 'media' || !/^message\//.test(seen.content_type || '')) {
      answer(400);
      return gmailError(res, 400, 'INVALID_ARGUMENT', 'badContent', `Media type '${seen.content_type}' is not supported. Valid media types: [message/*]`);
    }
    if (body.length > GMAIL_MAX) { answer(413); return gmailError(res, 413, 'INVALID_ARGUMENT', 'uploadTooLarge', `Media larger than: ${GMAIL_MAX}`); }
    mime = body;
  } else {
    let raw;
    try { raw = JSON.parse(body.toString('utf8')).raw; } catch { raw = undefined; }
    if (!/^application\/json\b/.test(seen.content_type || '') || typeof raw !== 'string' || !/^[A-Za-z0-9_-]+={0,2}$/.test(raw)) {
      answer(400);
      return gmailError(res, 400, 'INVALID_ARGUMENT', 'invalidArgument', "Invalid value for ByteString: the 'raw' field must be base64url");
    }
    mime = Buffer.from(raw, 'base64url');
  }
  const stored = await store(api, req, info, mime);
  if (!stored) {
    answer(400);
    if (api === 'graph') return graphError(res, 400, 'ErrorMimeContentInvalid', 'The MIME content names no recipient.');
    return gmailError(res, 400, 'INVALID_ARGUMENT', 'invalidArgument', 'Recipient address required');
  }
  if (api === 'graph') { answer(202); res.writeHead(202); return res.end(); }
  answer(200);
  return reply(res, 200, { id: stored, threadId: stored, labelIds: ['SENT'] });
}

const server = createServer({ cert: readFileSync(opts.cert), key: readFileSync(opts.key) }, (req, res) => {
  handle(req, res).catch((err) => {
    console.error(`mailapi.js: ${err.stack}`);
    if (!res.headersSent) reply(res, 500, { error: { code: 'InternalServerError', message: err.message } });
  });
});
server.listen(Number(opts.port), '127.0.0.1', () => {
  const { port } = server.address();
  process.stdout.write(`READY ${JSON.stringify({
    port, graph: `https://127.0.0.1:${port}/graph/v1.0`, gmail: `https://127.0.0.1:${port}/gmail/v1`,
    maildir: opts.maildir,
  })}\n`);
});
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => process.exit(0));
