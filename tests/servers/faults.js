// OUR FAULT INJECTOR, not a real server. It stands between the agent and the
// real provider's token endpoint (oidc.js) and produces, on demand, the
// failures real providers produce only now and then: 500, 503, 429 with
// Retry-After, a request that never gets an answer, malformed or huge
// replies, invalid_grant, slow answers, a dropped connection, a connection
// reset or a stall in the middle of a reply, a redirect, a real reply with
// a field changed (expires_in), and a TLS certificate that is wrong. Without
// a queued fault it forwards the request to the real token endpoint and
// returns the real reply unchanged, so a refresh through it is genuine.
//
// Usage: node faults.js --upstream TOKEN_ENDPOINT_URL [--port N]
//                       [--tls-cert PEM --tls-key PEM]
// With --tls-cert and --tls-key the token endpoint speaks HTTPS with that
// certificate, which POST /_tls replaces at run time, and the control
// endpoints move to a plain HTTP port of their own (so that every
// connection to the HTTPS port is the client's, and the control channel
// works whatever the certificate).
// Prints one line on stdout when listening:
//   READY {"port":N,"url":"http://127.0.0.1:N","token_endpoint":"http://127.0.0.1:N/token"}
// where url is the control endpoints' address; with TLS, token_endpoint is
// https://127.0.0.1:N/token, port its port and url http://127.0.0.1:M.
//
// Any POST whose path does not start with /_ is a token request: it is
// forwarded (body and content-type, authorization and accept headers) to the
// upstream URL, whatever its own path.
//
// Control endpoints:
//   POST /_fault  JSON {"kind": K, "count": N, ...}  queue a fault for the next
//                 N token requests (default 1; -1 = every request until
//                 /_reset). Faults queue in order. Optional members:
//                   "grant_type": only requests with this grant_type take it
//                   "retry_after": seconds for 429 (default 2) and 503 (none)
//                   "seconds": hold time for timeout (default 60), delay for
//                              slow (default 5)
//                   "bytes": body size for huge (default 8 MiB)
//                   "status", "body", "headers": for kind "custom"
//                   "status" (default 302), "location": for kind "redirect"
//                   "set" (an object of members to set), "unset" (names of
//                              members to delete): for kind "rewrite"
//                 Kinds: 500, 503, 429, timeout (hold the request without
//                 answering, then drop the connection), malformed (200 with
//                 broken JSON), invalid_grant (400 {"error":"invalid_grant"}),
//                 huge (200 with a valid JSON body of "bytes" bytes), slow
//                 (forward after "seconds"), close (drop the connection at
//                 once), custom (any status, body and headers), reset (200
//                 headers and half of a token reply, then a TCP reset),
//                 stall (the same half reply, then nothing for "seconds",
//                 default 60, then the connection is dropped), redirect
//                 (a redirect to "location"), rewrite (forward, then change
//                 the real JSON reply's members as "set" and "unset" say).
//                 reset, stall and redirect never reach the upstream, so a
//                 rotating refresh token is not used up by them.
//                 Answers {"queued": [...]}.
//   GET  /_faults the queue.
//   GET  /_log    {"requests": [{"time", "done", "closed", "grant_type",
//                 "fault", "status"}...]}: every token request seen, in order;
//                 times are Unix seconds (float); "closed" is when its
//                 connection closed, whoever closed it (null while open);
//                 "fault" is the kind applied or null; "status" the HTTP
//                 status answered (null while held or when the connection
//                 was dropped). No secrets are recorded. With TLS also
//                 "connections": [{"time"}...], every TCP connection to the
//                 HTTPS port (one that fails its handshake never becomes a
//                 request), and "tls_errors": [{"time", "error"}...], the
//                 handshakes that failed with an alert, in order.
//   POST /_reset  empty the queue and the logs.
//   POST /_tls    JSON {"cert": PEM_PATH, "key": PEM_PATH}: new connections
//                 get this certificate; idle kept-alive ones are closed, so
//                 that the next request shakes hands again.

import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
  },
});

if (!opts.upstream) {
  console.error('faults.js: --upstream TOKEN_ENDPOINT_URL is required');
  process.exit(2);
}
const upstream = new URL(opts.upstream);

const KINDS = new Set(['500', '503', '429', 'timeout', 'malformed', 'invalid_grant', 'huge', 'slow', 'close', 'custom',
  'reset', 'stall', 'redirect', 'rewrite']);
const tls = opts['tls-cert'] !== undefined || opts['tls-key'] !== undefined;
if (tls && !(opts['tls-cert'] && opts['tls-key'])) {
  console.error('faults.js: --tls-cert and --tls-key go together');
  process.exit(2);
}
// What reset and stall send before they stop: the head of a token reply
// whose Content-Length promises the rest.
const HALF_REPLY = '{"access_token":"half-a-reply","token_type":"Bearer",';
const HALF_REPLY_LENGTH = 400;
const MAX_BODY = 1024 * 1024;

let queue = [];
let log = [];
let tlsErrors = [];
let connections = [];

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sendJson(res, status, obj, headers = {}) {
  const body = JSON.stringify(obj);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  });
  res.end(body);
}

function sendText(res, status, text, headers = {}) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

function takeFault(grantType) {
  const i = queue.findIndex((f) => !f.grant_type || f.grant_type === grantType);
  if (i < 0) return undefined;
  const f = queue[i];
  if (f.count > 0) {
    f.count -= 1;
    if (f.count === 0) queue.splice(i, 1);
  }
  return f;
}

const sleep = (s) => new Promise((r) => { setTimeout(r, s * 1000); });

async function forward(req, body) {
  const headers = {};
  for (const h of ['content-type', 'authorization', 'accept', 'dpop']) {
    if (req.headers[h]) headers[h] = req.headers[h];
  }
  const res = await fetch(upstream, {
    method: 'POST', headers, body, redirect: 'manual', signal: AbortSignal.timeout(30000),
  });
  const out = {};
  for (const h of ['content-type', 'cache-control', 'pragma', 'www-authenticate', 'retry-after']) {
    const v = res.headers.get(h);
    if (v) out[h] = v;
  }
  return { status: res.status, headers: out, body: Buffer.from(await res.arrayBuffer()) };
}

// The head of a reply and half of its body, on the wire: what reset and
// stall send before they stop.
function halfReply(res) {
  res.writeHead(200, {
    'content-type': 'application/json', 'content-length': HALF_REPLY_LENGTH, 'cache-control': 'no-store',
  });
  return new Promise((resolve) => {
    res.write(HALF_REPLY, () => {
      // Written to the socket; give the kernel a moment to deliver it
      // before a reset, which discards what is still queued.
      setTimeout(resolve, 200);
    });
  });
}

// A TCP reset (SO_LINGER 0, then close): the peer's next read fails with
// ECONNRESET.  A TLS socket has no TCP handle of its own to reset: it is
// dropped, which its peer reads as a connection closed mid-reply.
function resetConnection(socket) {
  try {
    socket.resetAndDestroy();
  } catch {
    socket.destroy();
  }
}

// A real reply with members changed: the token stays genuine, only what
// "set" and "unset" name differs.  Not JSON (an error page): unchanged.
function rewrite(r, f) {
  let obj;
  try {
    obj = JSON.parse(r.body.toString());
  } catch {
    return;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return;
  for (const name of f.unset || []) delete obj[name];
  Object.assign(obj, f.set || {});
  r.body = Buffer.from(JSON.stringify(obj));
}

async function tokenRequest(req, res) {
  const entry = {
    time: Date.now() / 1000, done: null, closed: null, grant_type: null, fault: null, status: null,
  };
  log.push(entry);
  req.socket.once('close', () => { entry.closed = Date.now() / 1000; });
  const finish = (status) => { entry.status = status; entry.done = Date.now() / 1000; };
  let body;
  try {
    body = await readBody(req);
  } catch (err) {
    finish(413);
    return sendJson(res, 413, { error: 'invalid_request', error_description: err.message });
  }
  entry.grant_type = new URLSearchParams(body.toString()).get('grant_type');
  const f = takeFault(entry.grant_type);
  entry.fault = f ? f.kind : null;
  const kind = f ? f.kind : undefined;

  switch (kind) {
    case '500':
      finish(500);
      return sendText(res, 500, '<html><body><h1>500 Internal Server Error</h1></body></html>');
    case '503': {
      const h = f.retry_after !== undefined ? { 'retry-after': String(f.retry_after) } : {};
      finish(503);
      return sendText(res, 503, '<html><body><h1>503 Service Unavailable</h1></body></html>', h);
    }
    case '429':
      finish(429);
      return sendJson(res, 429, { error: 'temporarily_unavailable', error_description: 'too many requests' },
        { 'retry-after': String(f.retry_after ?? 2) });
    case 'invalid_grant':
      finish(400);
      return sendJson(res, 400, {
        error: 'invalid_grant',
        error_description: 'grant request is invalid (injected by faults.js)',
      });
    case 'malformed': {
      const text = '{"access_token": "broken-json", "token_type": "Bearer", "expires_in": 3600,';
      finish(200);
      return sendText(res, 200, text, { 'content-type': 'application/json' });
    }
    case 'huge': {
      const bytes = Math.max(64, Number(f.bytes ?? 8 * 1024 * 1024));
      const head = '{"access_token":"huge","token_type":"Bearer","expires_in":3600,"padding":"';
      const tail = '"}';
      const pad = Buffer.alloc(Math.max(0, bytes - head.length - tail.length), 'x');
      const all = Buffer.concat([Buffer.from(head), pad, Buffer.from(tail)]);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': all.length });
      res.on('finish', () => finish(200));
      res.on('close', () => { if (entry.done === null) entry.done = Date.now() / 1000; });
      return res.end(all);
    }
    case 'timeout': {
      // Never answer; drop the connection after the hold time.
      await sleep(Number(f.seconds ?? 60));
      entry.done = Date.now() / 1000;
      return req.socket.destroy();
    }
    case 'close':
      entry.done = Date.now() / 1000;
      return req.socket.destroy();
    case 'custom': {
      const status = Number(f.status ?? 400);
      const b = typeof f.body === 'string' ? f.body : JSON.stringify(f.body ?? { error: 'invalid_request' });
      finish(status);
      return sendText(res, status, b, { 'content-type': 'application/json', ...(f.headers || {}) });
    }
    case 'slow':
      await sleep(Number(f.seconds ?? 5));
      if (res.destroyed) { entry.done = Date.now() / 1000; return undefined; }
      break;
    case 'reset':
      await halfReply(res);
      entry.done = Date.now() / 1000;
      return resetConnection(req.socket);
    case 'stall':
      await halfReply(res);
      await sleep(Number(f.seconds ?? 60));
      entry.done = Date.now() / 1000;
      return req.socket.destroy();
    case 'redirect': {
      const status = Number(f.status ?? 302);
      finish(status);
      return sendText(res, status, '<html><body>Moved</body></html>', { location: String(f.location) });
    }
    default:
      break;
  }

  try {
    const r = await forward(req, body);
    if (kind === 'rewrite') rewrite(r, f);
    finish(r.status);
    res.writeHead(r.status, { ...r.headers, 'content-length': r.body.length });
    return res.end(r.body);
  } catch (err) {
    finish(502);
    return sendJson(res, 502, { error: 'server_error', error_description: `faults.js upstream: ${err.message}` });
  }
}

async function control(req, res, path) {
  if (req.method === 'POST' && path === '/_fault') {
    let spec;
    try {
      spec = JSON.parse((await readBody(req)).toString() || '{}');
    } catch (err) {
      return sendJson(res, 400, { error: `bad JSON: ${err.message}` });
    }
    const kind = String(spec.kind);
    if (!KINDS.has(kind)) return sendJson(res, 400, { error: `unknown kind ${kind}`, kinds: [...KINDS] });
    const count = spec.count === undefined ? 1 : Number(spec.count);
    if (!Number.isInteger(count) || count === 0 || count < -1) {
      return sendJson(res, 400, { error: 'count must be a positive integer or -1' });
    }
    queue.push({ ...spec, kind, count });
    return sendJson(res, 200, { queued: queue });
  }
  if (req.method === 'GET' && path === '/_faults') return sendJson(res, 200, { queued: queue });
  if (req.method === 'GET' && path === '/_log') return sendJson(res, 200, {
    requests: log, connections, tls_errors: tlsErrors,
  });
  if (req.method === 'POST' && path === '/_reset') {
    queue = [];
    log = [];
    tlsErrors = [];
    connections = [];
    return sendJson(res, 200, { ok: true });
  }
  if (req.method === 'POST' && path === '/_tls') {
    if (!tls) return sendJson(res, 400, { error: 'not started with --tls-cert' });
    let spec;
    try {
      spec = JSON.parse((await readBody(req)).toString() || '{}');
      server.setSecureContext({ cert: readFileSync(spec.cert), key: readFileSync(spec.key) });
    } catch (err) {
      return sendJson(res, 400, { error: `bad certificate: ${err.message}` });
    }
    // Every idle connection is closed before this reply is sent (it goes
    // on a connection of its own, Connection: close, busy now): a client
    // that asks next cannot find one of them still open in its cache and
    // meet its close in the middle of reusing it (curl then keeps that
    // reset as its message, not the certificate's fault).
    server.closeIdleConnections();
    return sendJson(res, 200, { ok: true }, { connection: 'close' });
  }
  return sendJson(res, 404, { error: 'not found' });
}

// controls: whether this server answers the control endpoints.
const handler = (controls) => (req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  let done;
  if (path.startsWith('/_')) {
    done = controls ? control(req, res, path) : Promise.resolve(sendJson(res, 404, { error: 'not found' }));
  } else if (req.method === 'POST') {
    done = tokenRequest(req, res);
  } else {
    done = Promise.resolve(sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' }));
  }
  done.catch((err) => {
    console.error('faults.js:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  });
};
const server = tls
  ? createTlsServer({ cert: readFileSync(opts['tls-cert']), key: readFileSync(opts['tls-key']) }, handler(false))
  : createServer(handler(true));
server.keepAliveTimeout = 5000;
const controlServer = tls ? createServer(handler(true)) : null;
if (tls) {
  server.on('connection', () => { connections.push({ time: Date.now() / 1000 }); });
  // A client that refuses our certificate may end the handshake with an
  // alert; such a connection never becomes a request.
  server.on('tlsClientError', (err) => {
    tlsErrors.push({ time: Date.now() / 1000, error: String(err.code || err.message) });
  });
}

function listen(srv, port) {
  return new Promise((resolve) => {
    srv.listen(port, '127.0.0.1', () => resolve(srv.address().port));
  });
}

for (const srv of [server, controlServer]) {
  if (srv) {
    srv.on('error', (err) => {
      console.error(`faults.js: ${err.message}`);
      process.exit(1);
    });
  }
}
const port = Number(opts.port);
const p = await listen(server, Number.isInteger(port) ? port : 0);
const c = controlServer ? await listen(controlServer, 0) : p;
const ready = {
  port: p, url: `http://127.0.0.1:${c}`, token_endpoint: `${tls ? 'https' : 'http'}://127.0.0.1:${p}/token`,
};
process.stdout.write(`READY ${JSON.stringify(ready)}\n`);

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
