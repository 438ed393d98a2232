// Bearer tokens: JWTs verified with jose, signed HS256 with JWT_SECRET or by an OIDC provider whose keys
// JWT_JWKS_URL publishes (RS256, ES256, EdDSA). Claims: `sub` (the user; for a customer, the customer id),
// `roles` ("customer", "admin", "operator") and, with TENANCY=multi, `tenant`. Without a secret or keys the
// server is in open development mode: every caller is an admin and operator, in the tenant the x-tenant
// header names.
import {
  createRemoteJWKSet,
  errors as joseErrors,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  SignJWT,
  type JWTVerifyOptions,
} from 'jose';
import type { Authenticator, Caller, Role } from '../../core/caller.ts';
import { UnauthenticatedError, UnavailableError } from '../../core/errors.ts';
import { DEFAULT_TENANT, TENANT_PATTERN, type Tenancy } from '../../core/tenancy.ts';

export type AuthOptions = {
  tenancy: Tenancy;
  /** HS256. */
  secret?: string;
  /** An OIDC provider's JWKS (asymmetric keys). */
  jwksUrl?: string;
  issuer?: string;
  audience?: string;
};

const OPEN_ROLES = Object.freeze(['admin', 'operator'] as Role[]);

const ROLES = new Set<Role>(['customer', 'admin', 'operator']);

const ASYMMETRIC = ['RS256', 'ES256', 'EdDSA'];

/** Keys are refetched for an unknown `kid` at most this often, so forged kids cannot flood the provider. */
const JWKS_COOLDOWN_MS = 1000;

const TENANT_RULE = '1 to 64 of a-z, 0-9 and -';

export function createAuthenticator(options: AuthOptions): Authenticator {
  const { tenancy } = options;
  if (!options.secret && !options.jwksUrl) {
    return {
      open: true,
      async authenticate(_authorization: string | null | undefined, tenantHeader?: string | null) {
        if (tenancy === 'single' || !tenantHeader) return { userId: null, roles: OPEN_ROLES, tenant: DEFAULT_TENANT };
        if (!TENANT_PATTERN.test(tenantHeader)) throw new UnauthenticatedError(`The x-tenant header must be ${TENANT_RULE}`);
        return { userId: null, roles: OPEN_ROLES, tenant: tenantHeader };
      },
    };
  }
  const verify = verifier(options);
  return {
    open: false,
    async authenticate(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match) throw new UnauthenticatedError('Authentication required: send "Authorization: Bearer <JWT>"');
      const payload = await verify(match[1]!);
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => ROLES.has(r as Role)) : [];
      if (typeof payload.sub !== 'string' || payload.sub === '' || roles.length === 0) {
        throw new UnauthenticatedError('The token needs a `sub` claim and `roles` with "customer", "admin" or "operator"');
      }
      const caller: Caller = { userId: payload.sub, roles, ...(typeof payload.exp === 'number' && { expiresAt: payload.exp * 1000 }) };
      if (tenancy === 'single') return { ...caller, tenant: DEFAULT_TENANT };
      const { tenant } = payload;
      if (tenant === undefined && roles.every((role) => role === 'operator')) return caller; // an operator of every tenant
      if (typeof tenant !== 'string' || !TENANT_PATTERN.test(tenant)) {
        throw new UnauthenticatedError(`The token needs a \`tenant\` claim of ${TENANT_RULE} (TENANCY=multi)`);
      }
      return { ...caller, tenant };
    },
  };
}

/** Verifies a token's signature and standard claims; UNAUTHENTICATED with what was wrong. */
function verifier(options: AuthOptions): (token: string) => Promise<JWTPayload> {
  const checks: JWTVerifyOptions = {
    ...(options.issuer && { issuer: options.issuer }),
    ...(options.audience && { audience: options.audience }),
  };
  const secret = options.secret ? new TextEncoder().encode(options.secret) : undefined;
  const keys: JWTVerifyGetKey | undefined = options.jwksUrl
    ? createRemoteJWKSet(new URL(options.jwksUrl), { cooldownDuration: JWKS_COOLDOWN_MS })
    : undefined;
  return async (token) => {
    try {
      // The header picks the key: HS256 with the secret, the others with the provider's keys.
      const symmetric = secret !== undefined && /"alg"\s*:\s*"HS256"/.test(headerText(token));
      if (symmetric || !keys) return (await jwtVerify(token, secret!, { ...checks, algorithms: ['HS256'] })).payload;
      return (await jwtVerify(token, keys, { ...checks, algorithms: ASYMMETRIC })).payload;
    } catch (error) {
      // The provider not answering is not the caller's fault: retryable, like the database away.
      if (error instanceof joseErrors.JWKSTimeout || !(error instanceof joseErrors.JOSEError)) {
        throw new UnavailableError({
          cause: error,
          message: "The token could not be checked: the identity provider's keys could not be fetched",
        });
      }
      throw new UnauthenticatedError(refusal(error));
    }
  };
}

const headerText = (token: string) => {
  try {
    return Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString();
  } catch {
    return '';
  }
};

function refusal(error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return 'The token has expired';
  if (error instanceof joseErrors.JWTClaimValidationFailed) return `The token's \`${error.claim}\` claim is not accepted (${error.reason})`;
  if (error instanceof joseErrors.JWKSNoMatchingKey) return "The token's key (kid) is not among the provider's keys";
  return 'The token is not valid (bad signature, format or algorithm)';
}

/** A token the authenticator accepts (for development and tests: `converge token`). `expires`: "30m", "1h", "7d". */
export function mintToken(
  secret: string,
  claims: { sub: string; roles: readonly string[]; expires: string; tenant?: string },
): Promise<string> {
  return new SignJWT({ roles: [...claims.roles], ...(claims.tenant !== undefined && { tenant: claims.tenant }) })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(claims.expires)
    .sign(new TextEncoder().encode(secret));
}
