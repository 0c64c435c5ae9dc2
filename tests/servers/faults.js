// OUR FAULT INJECTOR, not a real server. It stands between the agent and the
// real provider's token endpoint (oidc.js) and produces, on demand, the
// failures real providers produce only now and then: 500, 503, 429 with
// Retry-After, a request that never gets an answer, malformed or huge
// replies, invalid_grant, slow answers, a dropped connection. Without a
// queued fault it forwards the request to the real token endpoint and
// returns the real reply unchanged, so a refresh through it is genuine.
//
// Usage: node faults.js --upstream TOKEN_ENDPOINT_URL [--port N]
// Prints one line on stdout when listening:
//   READY {"port":N,"url":"http://127.0.0.1:N","token_endpoint":"http://127.0.0.1:N/token"}
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
//                 Kinds: 500, 503, 429, timeout (hold the request without
//                 answering, then drop the connection), malformed (200 with
//                 broken JSON), invalid_grant (400 {"error":"invalid_grant"}),
//                 huge (200 with a valid JSON body of "bytes" bytes), slow
//                 (forward after "seconds"), close (drop the connection at
//                 once), custom (any status, body and headers).
//                 Answers {"queued": [...]}.
//   GET  /_faults the queue.
//   GET  /_log    {"requests": [{"time", "done", "grant_type", "fault",
//                 "status"}...]}: every token request seen, in order; times are
//                 Unix seconds (float); "fault" is the kind applied or null;
//                 "status" the HTTP status answered (null while held or when
//                 the connection was dropped). No secrets are recorded.
//   POST /_reset  empty the queue and the log.

import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

const { values: opts } = parseArgs({
  options: {
    upstream: { type: 'string' },
    port: { type: 'string', default: '0' },
  },
});

if (!opts.upstream) {
  console.error('faults.js: --upstream TOKEN_ENDPOINT_URL is required');
  process.exit(2);
}
const upstream = new URL(opts.upstream);

const KINDS = new Set(['500', '503', '429', 'timeout', 'malformed', 'invalid_grant', 'huge', 'slow', 'close', 'custom']);
const MAX_BODY = 1024 * 1024;

let queue = [];
let log = [];

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

async function tokenRequest(req, res) {
  const entry = { time: Date.now() / 1000, done: null, grant_type: null, fault: null, status: null };
  log.push(entry);
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
    default:
      break;
  }

  try {
    const r = await forward(req, body);
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
  if (req.method === 'GET' && path === '/_log') return sendJson(res, 200, { requests: log });
  if (req.method === 'POST' && path === '/_reset') {
    queue = [];
    log = [];
    return sendJson(res, 200, { ok: true });
  }
  return sendJson(res, 404, { error: 'not found' });
}

const server = createServer((req, res) => {
  const path = new URL(req.url, 'http://x').pathname;
  const done = path.startsWith('/_') ? control(req, res, path)
    : req.method === 'POST' ? tokenRequest(req, res)
      : Promise.resolve(sendJson(res, 405, { error: 'invalid_request', error_description: 'POST only' }));
  done.catch((err) => {
    console.error('faults.js:', err);
    if (!res.headersSent) sendJson(res, 500, { error: 'server_error' });
  });
});
server.keepAliveTimeout = 5000;

const port = Number(opts.port);
server.listen(Number.isInteger(port) ? port : 0, '127.0.0.1', () => {
  const p = server.address().port;
  const url = `http://127.0.0.1:${p}`;
  process.stdout.write(`READY ${JSON.stringify({ port: p, url, token_endpoint: `${url}/token` })}\n`);
});
server.on('error', (err) => {
  console.error(`faults.js: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => process.exit(0));
}
