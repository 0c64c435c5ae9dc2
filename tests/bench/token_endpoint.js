// A FAST LOCAL TOKEN ENDPOINT OF OUR OWN, for the scale and refresh-storm
// benchmarks only (tests/bench/bench.py).  It is not an OAuth server: it
// answers every refresh_token grant with fresh tokens, checking nothing,
// because the real test provider (oidc-provider, tests/servers/oidc.js)
// cannot issue tens of thousands of refreshes a minute on this machine,
// and a storm is about the agent, not the provider.
//
// Each reply carries an access token and a new refresh token (rotation,
// the costlier case for the agent: the vault must hold the new one before
// the access token is served) of TOKEN_LEN bytes, and expires_in of
// EXPIRES_IN seconds.  HTTP/1.1 with keep-alive, as a real provider.
//
//   node token_endpoint.js TOKEN_LEN EXPIRES_IN
//
// prints {"port": N} once listening.  GET /stats answers
// {"requests": refresh grants answered, "connections": TCP connections
// that carried a token request (not those of GET /stats), "open": of
// those, open now, "max_open": most open at once,
// "replayed": refresh tokens presented a second time}.
//
// A refresh token presented again is what the agent must never do by
// itself (tests/integration/test_vault_journal.py kills it in the middle
// of its vault writes and checks): it is counted and refused with
// invalid_grant, as a provider that rotates refresh tokens does.  Tokens
// are told apart by their first 64 bytes, which are unique (ours carry a
// serial number, bench_vault's the account's).
'use strict';

const http = require('http');

const tokenLen = parseInt(process.argv[2] || '2048', 10);
const expiresIn = parseInt(process.argv[3] || '3600', 10);
const filler = 'x'.repeat(tokenLen);
let serial = 0;
const stats = {
  requests: 0, connections: 0, open: 0, max_open: 0, replayed: 0,
};
const presented = new Set();

function token(kind) {
  serial += 1;
  const head = `${kind}.${process.pid}.${serial}.`;
  return head + filler.slice(head.length);
}

const server = http.createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/stats') {
    res.writeHead(200, { 'Content-Type': 'application/json' });
    res.end(JSON.stringify(stats));
    return;
  }
  countConnection(req.socket);
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const form = new URLSearchParams(Buffer.concat(chunks).toString());
    if (form.get('grant_type') !== 'refresh_token') {
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"error":"unsupported_grant_type"}');
      return;
    }
    const used = (form.get('refresh_token') || '').slice(0, 64);
    if (presented.has(used)) {
      stats.replayed += 1;
      res.writeHead(400, { 'Content-Type': 'application/json' });
      res.end('{"error":"invalid_grant","error_description":"replayed"}');
      return;
    }
    presented.add(used);
    stats.requests += 1;
    const body = JSON.stringify({
      access_token: token('at'),
      token_type: 'Bearer',
      expires_in: expiresIn,
      refresh_token: token('rt'),
      scope: 'mail',
    });
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Cache-Control': 'no-store',
      'Content-Length': Buffer.byteLength(body),
    });
    res.end(body);
  });
});
server.keepAliveTimeout = 60000;
// A connection is counted when it carries its first token request, not
// when it is accepted: the bench's own GET /stats, a new connection each
// time it looks (every 2,000 TOKEN samples during a storm), would
// otherwise count as the agent's, and a storm that lasts longer would
// seem to use more connections.
function countConnection(sock) {
  if (sock.counted) return;
  sock.counted = true;
  stats.connections += 1;
  stats.open += 1;
  stats.max_open = Math.max(stats.max_open, stats.open);
  sock.on('close', () => { stats.open -= 1; });
}
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
