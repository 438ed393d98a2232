// Tokens of an OIDC provider, verified against its published keys (JWT_JWKS_URL) served here by a real
// local HTTP endpoint whose keys rotate mid-test: RS256, ES256 and EdDSA, issuer and audience checked, an
// unknown kid fetching the keys again once, and the provider away answered as unavailable.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, type JWK, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuthenticator } from '../../src/infra/auth/jwt.ts';
import { signToken, TEST_SECRET } from '../support/tokens.ts';

type Key = { kid: string; alg: string; privateKey: CryptoKey; jwk: JWK };

async function key(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, alg === 'EdDSA' ? { crv: 'Ed25519' } : {});
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const ISSUER = 'https://id.example.com/';
const AUDIENCE = 'converge';

const sign = (k: Key, claims: Record<string, unknown> = {}, options: { issuer?: string; audience?: string } = {}) =>
  new SignJWT({ roles: ['customer'], tenant: 'acme', ...claims })
    .setProtectedHeader({ alg: k.alg, kid: k.kid })
    .setSubject('customer-1')
    .setIssuer(options.issuer ?? ISSUER)
    .setAudience(options.audience ?? AUDIENCE)
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(k.privateKey);

describe('OIDC tokens against a JWKS endpoint', () => {
  let server: Server;
  let url: string;
  let published: Key[] = [];
  let fetches = 0;
  beforeAll(async () => {
    server = createServer((_req, res) => {
      fetches++;
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ keys: published.map((k) => k.jwk) }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/.well-known/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const auth = (extra: { secret?: string } = {}) =>
    createAuthenticator({ tenancy: 'multi', jwksUrl: url, issuer: ISSUER, audience: AUDIENCE, ...extra });
  const refusal = (promise: Promise<unknown>) =>
    promise.then(
      () => 'accepted',
      (error: { code: string; message: string }) => `${error.code}: ${error.message}`,
    );

  it('accepts RS256, ES256 and EdDSA tokens of the published keys, and follows a rotation without a restart', async () => {
    const [rsa, ec, ed] = await Promise.all([key('rsa-1', 'RS256'), key('ec-1', 'ES256'), key('ed-1', 'EdDSA')]);
    published = [rsa, ec, ed];
    fetches = 0;
    const authenticator = auth();
    for (const k of [rsa, ec, ed]) {
      expect(await authenticator.authenticate(`Bearer ${await sign(k)}`)).toMatchObject({
        userId: 'customer-1',
        roles: ['customer'],
        tenant: 'acme',
      });
    }
    expect(fetches).toBe(1); // fetched once, then cached

    // The provider rotates: a new key is published and the old one withdrawn.
    const next = await key('rsa-2', 'RS256');
    published = [next];
    await new Promise((resolve) => setTimeout(resolve, 1100)); // past the refetch cool-down
    expect(await authenticator.authenticate(`Bearer ${await sign(next)}`)).toMatchObject({ tenant: 'acme' });
    expect(fetches).toBe(2); // the unknown kid fetched the keys once more
    // Cached again: a token of the new key fetches nothing; the withdrawn key's kid is now unknown.
    await authenticator.authenticate(`Bearer ${await sign(next)}`);
    expect(await refusal(authenticator.authenticate(`Bearer ${await sign(ec)}`))).toMatch(/^UNAUTHENTICATED: .*kid/);
    expect(fetches).toBeLessThanOrEqual(3);
  });

  it('checks the issuer, the audience, the algorithm and the claims', async () => {
    const k = await key('rsa-3', 'RS256');
    published = [k];
    const authenticator = auth();
    expect(await refusal(authenticator.authenticate(`Bearer ${await sign(k, {}, { issuer: 'https://evil.example.com/' })}`))).toMatch(
      /^UNAUTHENTICATED: The token's `iss` claim/,
    );
    expect(await refusal(authenticator.authenticate(`Bearer ${await sign(k, {}, { audience: 'other' })}`))).toMatch(
      /^UNAUTHENTICATED: The token's `aud` claim/,
    );
    expect(await refusal(authenticator.authenticate(`Bearer ${await sign(k, { tenant: undefined })}`))).toMatch(
      /^UNAUTHENTICATED: The token needs a `tenant` claim/,
    );
    // An operator needs no tenant.
    expect(await authenticator.authenticate(`Bearer ${await sign(k, { roles: ['operator'], tenant: undefined })}`)).toMatchObject({
      roles: ['operator'],
    });
    // HS256 is not an OIDC provider's: refused without JWT_SECRET, accepted with it (both may be set).
    const hs = await signToken({ sub: 'admin-1', roles: ['admin'], tenant: 'acme' });
    expect(await refusal(authenticator.authenticate(`Bearer ${hs}`))).toMatch(/^UNAUTHENTICATED: The token is not valid/);
    const both = createAuthenticator({ tenancy: 'multi', jwksUrl: url, secret: TEST_SECRET });
    expect(await both.authenticate(`Bearer ${hs}`)).toMatchObject({ userId: 'admin-1', tenant: 'acme' });
    // JWT_ISSUER holds for every token, HS256 ones too.
    expect(await refusal(auth({ secret: TEST_SECRET }).authenticate(`Bearer ${hs}`))).toMatch(/`iss` claim/);
    // A key of the same kid but another signer: the signature does not verify.
    const forged = { ...(await key('rsa-3', 'RS256')) };
    expect(await refusal(authenticator.authenticate(`Bearer ${await sign(forged)}`))).toMatch(/^UNAUTHENTICATED: The token is not valid/);
  });

  it('answers SERVICE_UNAVAILABLE when the provider cannot be reached', async () => {
    const k = await key('rsa-4', 'RS256');
    const away = createAuthenticator({ tenancy: 'multi', jwksUrl: 'http://127.0.0.1:1/jwks.json' });
    expect(await refusal(away.authenticate(`Bearer ${await sign(k)}`))).toMatch(/^SERVICE_UNAVAILABLE: .*identity provider/);
  });
});
