// A real OpenID provider for the integration tests: oidc-provider (npm,
// pinned by package-lock.json) on 127.0.0.1, configured the way a mail
// provider behaves towards xoauth-agent: device flow, PKCE, short-lived
// opaque access tokens, rotating refresh tokens and token introspection (so
// the SMTP server in smtp.js can check a bearer token).
//
// Usage: node oidc.js [--port N] [--clients FILE.json]
//   --port N       listen on 127.0.0.1:N; 0 (default) picks a free port.
//   --clients F    JSON array of client metadata replacing the built-in ones.
// When listening it prints one line on stdout:
//   READY {"issuer":"http://127.0.0.1:PORT","port":PORT,...endpoints}
//
// Environment (all optional):
//   XO_TEST_OIDC_PORT        port, when --port is not given
//   XO_TEST_AT_TTL           access token lifetime in seconds (default 30)
//   XO_TEST_RT_TTL           refresh token lifetime in seconds (default 14 days)
//   XO_TEST_DEVICE_TTL       device code lifetime in seconds (default 600)
//   XO_TEST_DEVICE_INTERVAL  if set, add "interval": N to the device
//                            authorization reply (oidc-provider sends none, so
//                            RFC 8628's default of 5 s applies otherwise)
//
// Behaviour the agent sees, faithfully oidc-provider's own:
// - no "interval" in the device authorization reply (unless asked above);
// - refresh tokens rotate on every use, and presenting an already used one
//   answers invalid_grant and revokes the whole grant (RFC 9700);
// - offline_access survives the device flow (prompt is not a device flow
//   parameter); in the authorization code flow oidc-provider drops it unless
//   prompt=consent is sent. Refresh tokens are issued to every client allowed
//   the refresh_token grant, with or without offline_access, so a browser
//   login that omits prompt=consent still gets one.
// - POST /_test/end-access-token (token=VALUE) ends one access token early,
//   leaving its grant and refresh token (see the handler below).
// The login and consent pages are oidc-provider's devInteractions: any login
// name with any password is accepted; use e-mail addresses as login names,
// the account's "sub" and "email" claims are that name.

import { createServer } from 'node:http';
import { generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: opts } = parseArgs({
  options: {
    port: { type: 'string' },
    clients: { type: 'string' },
  },
});

function envSeconds(name, dflt) {
  const v = process.env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) {
    console.error(`oidc.js: ${name} must be a positive integer, got ${JSON.stringify(v)}`);
    process.exit(2);
  }
  return n;
}

const AT_TTL = envSeconds('XO_TEST_AT_TTL', 30);
const RT_TTL = envSeconds('XO_TEST_RT_TTL', 14 * 24 * 3600);
const DEVICE_TTL = envSeconds('XO_TEST_DEVICE_TTL', 600);
const DEVICE_INTERVAL = process.env.XO_TEST_DEVICE_INTERVAL
  ? envSeconds('XO_TEST_DEVICE_INTERVAL', 5) : undefined;

// The scope a mail client asks for. mail.send stands for Microsoft's
// https://outlook.office.com/SMTP.Send or Google's https://mail.google.com/.
const MAIL_SCOPE = 'mail.send';
// Another resource's scope a login may consent to as well: mail.api stands
// for Graph's https://graph.microsoft.com/Mail.Send (mailapi.js checks it).
const API_SCOPE = 'mail.api';

// The paste flow's registered redirect URI (a name that never resolves).
const PASTE_REDIRECT_URI = 'https://xoauth-paste.invalid/done';

const BUILTIN_CLIENTS = [
  {
    // What xoauth-agent is: a public (native) client, no secret, device flow,
    // browser flow with PKCE on a loopback redirect (any port), refresh.
    client_id: 'xoauth-test',
    client_name: 'xoauth-agent tests',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: [
      'urn:ietf:params:oauth:grant-type:device_code',
      'refresh_token',
      'authorization_code',
    ],
    response_types: ['code'],
    // Loopback redirects for the browser flow: as a native client, any
    // port is accepted for these (RFC 8252 7.3; oidc-provider compares
    // them without the port). The https one is the paste flow's fixed
    // redirect "elsewhere": nothing listens there, the tests stop at the
    // redirect and paste its address back.
    redirect_uris: [
      'http://127.0.0.1/',
      'http://127.0.0.1/callback',
      PASTE_REDIRECT_URI,
    ],
  },
  {
    // A public client that may not refresh: it gets no refresh token.
    client_id: 'xoauth-test-norefresh',
    application_type: 'native',
    token_endpoint_auth_method: 'none',
    grant_types: ['urn:ietf:params:oauth:grant-type:device_code', 'authorization_code'],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  },
  {
    // A confidential client with a secret (the kind Outlook.com rejects for
    // SMTP; here it simply works), for client_secret handling tests.
    client_id: 'xoauth-test-confidential',
    client_secret: 'xoauth-test-confidential-secret',
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: [
      'urn:ietf:params:oauth:grant-type:device_code',
      'refresh_token',
      'authorization_code',
    ],
    response_types: ['code'],
    redirect_uris: ['http://127.0.0.1/callback'],
  },
  {
    // App-only sending (Microsoft 365 SMTP.SendAsApp): client_credentials.
    client_id: 'xoauth-test-app',
    client_secret: 'xoauth-test-app-secret',
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['client_credentials'],
    response_types: [],
    redirect_uris: [],
    scope: MAIL_SCOPE,
  },
  {
    // The resource server: smtp.js authenticates as this to introspect.
    client_id: 'smtp-server',
    client_secret: 'smtp-server-secret',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: [],
    response_types: [],
    redirect_uris: [],
  },
];

const clients = opts.clients
  ? JSON.parse(readFileSync(opts.clients, 'utf8'))
  : BUILTIN_CLIENTS;

let port = Number(opts.port ?? process.env.XO_TEST_OIDC_PORT ?? 0);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`oidc.js: bad port ${JSON.stringify(opts.port)}`);
  process.exit(2);
}

// The issuer must carry the real port, so listen first and build the
// provider once the port is known.
let handler = (req, res) => { res.statusCode = 503; res.end(); };
const server = createServer((req, res) => handler(req, res));
server.listen(port, '127.0.0.1', () => {
  port = server.address().port;
  const issuer = `http://127.0.0.1:${port}`;

  // A fresh signing key per run (ID tokens); access tokens stay opaque.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = { ...privateKey.export({ format: 'jwk' }), kid: randomUUID(), use: 'sig', alg: 'RS256' };

  const configuration = {
    clients,
    jwks: { keys: [jwk] },
    cookies: { keys: [randomBytes(32).toString('hex')] },
    scopes: ['openid', 'email', 'offline_access', MAIL_SCOPE, API_SCOPE],
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    // Put the scope's claims (email) into the id_token, as Microsoft and
    // Google do: the agent learns the account's address from it.
    conformIdTokenClaims: false,
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() { return { sub: id, email: id, email_verified: true }; },
      };
    },
    features: {
      devInteractions: { enabled: true },
      deviceFlow: { enabled: true },
      clientCredentials: { enabled: true },
      revocation: {
        enabled: true,
        async allowedPolicy(ctx, client, token) { return token.clientId === client.clientId; },
      },
      introspection: {
        enabled: true,
        // The resource server may introspect anything; a client only its own.
        async allowedPolicy(ctx, client, token) {
          return client.clientId === 'smtp-server' || token.clientId === client.clientId;
        },
      },
    },
    pkce: { required: () => true },
    // Every client allowed the refresh_token grant gets a refresh token.
    async issueRefreshToken(ctx, client) {
      return client.grantTypeAllowed('refresh_token');
    },
    rotateRefreshToken: true,
    // Refresh tokens outlive the browser session of whoever approved them.
    async expiresWithSession() { return false; },
    // Introspection then reports the mailbox, as providers' tokens do.
    async extraTokenClaims(ctx, token) {
      return token.accountId ? { email: token.accountId } : undefined;
    },
    ttl: {
      AccessToken: AT_TTL,
      ClientCredentials: AT_TTL,
      RefreshToken: RT_TTL,
      DeviceCode: DEVICE_TTL,
      AuthorizationCode: 60,
      IdToken: 3600,
      Interaction: 3600,
      Session: 24 * 3600,
      Grant: RT_TTL,
    },
  };

  const provider = new Provider(issuer, configuration);
  provider.on('server_error', (ctx, err) => console.error('oidc.js: server_error', err));

  if (DEVICE_INTERVAL !== undefined) {
    provider.use(async (ctx, next) => {
      await next();
      if (ctx.oidc?.route === 'device_authorization' && ctx.status === 200 && ctx.body) {
        ctx.body.interval = DEVICE_INTERVAL;
      }
    });
  }

  // A test control beside the provider's routes: POST /_test/end-access-token
  // with the form field token=VALUE ends that one access token at once,
  // through the provider's own model, while its grant and refresh token
  // stand: what a provider does when a policy cuts an access token short
  // (Microsoft's continuous access evaluation). The revocation endpoint
  // cannot: oidc-provider revokes every token of the grant with it.
  // Answers 204, or 404 when no such access token is active.
  const providerCallback = provider.callback();
  handler = (req, res) => {
    if (req.method !== 'POST' || req.url !== '/_test/end-access-token') {
      return providerCallback(req, res);
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', async () => {
      const value = new URLSearchParams(Buffer.concat(chunks).toString()).get('token');
      const token = value ? await provider.AccessToken.find(value) : undefined;
      if (token) await token.destroy();
      res.statusCode = token ? 204 : 404;
      res.end();
    });
    return undefined;
  };
  const ready = {
    issuer,
    port,
    discovery: `${issuer}/.well-known/openid-configuration`,
    token_endpoint: `${issuer}/token`,
    device_authorization_endpoint: `${issuer}/device/auth`,
    authorization_endpoint: `${issuer}/auth`,
    introspection_endpoint: `${issuer}/token/introspection`,
    revocation_endpoint: `${issuer}/token/revocation`,
    verification_uri: `${issuer}/device`,
    paste_redirect_uri: PASTE_REDIRECT_URI,
    access_token_ttl: AT_TTL,
  };
  process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
});

server.on('error', (err) => {
  console.error(`oidc.js: ${err.message}`);
  process.exit(1);
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => { server.close(); process.exit(0); });
}
