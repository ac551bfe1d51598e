// node-oidc-provider configured like our demo's service clients, for bench/token_bench.py to
// measure beside our IdP (docs/performance.md, "Against node-oidc-provider").
//
//   NODE_ENV=production PEER_PORT=9000 PEER_CLIENTS='{"eventcatalog-admin": "secret", ...}' \
//     node bench/peer/server.mjs
//
// - two APIs as resource indicators (RFC 8707): urn:globoticket:eventcatalog, whose access
//   tokens are RS256 JWTs, and urn:globoticket:discount, ES256 JWTs; 600 s, as ours;
// - client credentials with client_secret_basic for eventcatalog-admin (eventcatalog.*) and
//   shoppingbasket (discount.fullaccess), their secrets from PEER_CLIENTS; a request names no
//   resource: the API is the one owning the requested scope, as our IdP resolves it;
// - one RSA 2048 and one P-256 signing key, generated once at start by the primary process
//   and handed to every worker, so a token verifies against any worker's JWKS;
// - PEER_WORKERS (2) processes under node's cluster module, as gunicorn runs 2 workers: one
//   per core of the benchmark machine. The primary only accepts connections and hands them
//   to the workers, once per keep-alive connection.
//
// node-oidc-provider saves a token through its adapter only when the token is opaque: these
// JWT access tokens are stored nowhere, and a request touches no database. Our IdP stores
// every token. With PEER_STORE_URL (a PostgreSQL URL), each token is also INSERTed into
// peer_access_token before the response, from formats.customizers.jwt (the one awaited hook
// of JWT issuance), through a pool of PEER_STORE_POOL (4) connections per worker: the cost of
// a stored token, added by us, not a node-oidc-provider feature.
import cluster from 'node:cluster';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import http from 'node:http';
import process from 'node:process';

import Provider from 'oidc-provider';
import pg from 'pg';

const APIS = {
  'urn:globoticket:eventcatalog': {
    audience: 'eventcatalog',
    scopes: ['eventcatalog.read', 'eventcatalog.write'],
    alg: 'RS256',
  },
  'urn:globoticket:discount': { audience: 'discount', scopes: ['discount.fullaccess'], alg: 'ES256' },
};
const CLIENT_SCOPES = {
  'eventcatalog-admin': ['eventcatalog.read', 'eventcatalog.write'],
  shoppingbasket: ['discount.fullaccess'],
};
const LIFETIME = 600;
const STORE_TABLE = `CREATE TABLE IF NOT EXISTS peer_access_token (
  jti text PRIMARY KEY,
  client_id text NOT NULL,
  payload jsonb NOT NULL,
  expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS peer_access_token_expires_at ON peer_access_token (expires_at);
TRUNCATE peer_access_token`;

function signingKeys() {
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'jwk' });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'jwk' });
  return [
    { ...rsa, kid: 'peer-rs256', use: 'sig', alg: 'RS256' },
    { ...ec, kid: 'peer-es256', use: 'sig', alg: 'ES256' },
  ];
}

function apiOwning(scope) {
  const requested = new Set((scope ?? '').split(' '));
  return Object.keys(APIS).find((resource) => APIS[resource].scopes.some((s) => requested.has(s)));
}

function storeToken(pool) {
  return async (ctx, token, jwt) => {
    const { jti, client_id: clientId, exp } = jwt.payload;
    await pool.query(
      'INSERT INTO peer_access_token (jti, client_id, payload, expires_at) VALUES ($1, $2, $3, to_timestamp($4))',
      [jti, clientId, jwt.payload, exp],
    );
  };
}

function configuration({ keys, secrets, pool }) {
  return {
    clients: Object.entries(CLIENT_SCOPES).map(([clientId, scopes]) => ({
      client_id: clientId,
      client_secret: secrets[clientId],
      token_endpoint_auth_method: 'client_secret_basic',
      grant_types: ['client_credentials'],
      response_types: [],
      redirect_uris: [],
      scope: scopes.join(' '),
    })),
    scopes: Object.values(APIS).flatMap((api) => api.scopes),
    jwks: { keys },
    cookies: { keys: [randomBytes(32).toString('base64url')] },
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: (ctx) => apiOwning(ctx.oidc.params.scope),
        useGrantedResource: () => true,
        getResourceServerInfo: (ctx, resource, client) => {
          const api = APIS[resource];
          const allowed = new Set(client.scope.split(' '));
          return {
            audience: api.audience,
            scope: api.scopes.filter((scope) => allowed.has(scope)).join(' '),
            accessTokenTTL: LIFETIME,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: api.alg } },
          };
        },
      },
    },
    formats: { customizers: { jwt: pool ? storeToken(pool) : undefined } },
    ttl: { ClientCredentials: LIFETIME },
  };
}

const port = Number(process.env.PEER_PORT);
const workers = Number(process.env.PEER_WORKERS ?? 2);
const storeUrl = process.env.PEER_STORE_URL;

if (cluster.isPrimary) {
  if (storeUrl) {
    const client = new pg.Client({ connectionString: storeUrl });
    await client.connect();
    await client.query(STORE_TABLE);
    await client.end();
  }
  const env = { PEER_KEYS: JSON.stringify(signingKeys()) };
  let listening = 0;
  for (let i = 0; i < workers; i += 1) {
    cluster.fork(env);
  }
  cluster.on('listening', () => {
    listening += 1;
    if (listening === workers) {
      console.log(`peer: ${workers} workers on 127.0.0.1:${port}${storeUrl ? ', tokens stored' : ''}`);
    }
  });
  cluster.on('exit', (worker, code, signal) => {
    console.error(`peer: worker ${worker.process.pid} exited (${signal ?? code})`);
    process.exitCode = 1;
  });
  const stop = () => {
    cluster.removeAllListeners('exit');
    for (const worker of Object.values(cluster.workers)) worker.kill();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
} else {
  const pool = storeUrl
    ? new pg.Pool({ connectionString: storeUrl, max: Number(process.env.PEER_STORE_POOL ?? 4) })
    : undefined;
  const provider = new Provider(`http://127.0.0.1:${port}`, configuration({
    keys: JSON.parse(process.env.PEER_KEYS),
    secrets: JSON.parse(process.env.PEER_CLIENTS),
    pool,
  }));
  provider.on('server_error', (ctx, error) => console.error('peer: server_error', error));
  http.createServer(provider.callback()).listen(port, '127.0.0.1');
  process.on('SIGTERM', () => process.exit(0));
}
