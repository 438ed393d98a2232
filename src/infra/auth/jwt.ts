// Bearer tokens: HS256 JWTs verified with jose. Claims: `sub` (the user; for a customer, the customer
// id) and `roles` ("customer", "admin"). Without a secret the server is in open development mode and
// every caller is an admin.
import { errors as joseErrors, type JWTPayload, jwtVerify, SignJWT } from 'jose';
import { UnauthenticatedError } from '../../core/errors.ts';
import type { Authenticator, Caller, Role } from '../../core/caller.ts';

export const OPEN_MODE_CALLER: Caller = Object.freeze({ userId: null, roles: Object.freeze(['admin'] as Role[]) });

const ROLES = new Set<Role>(['customer', 'admin']);

export function createAuthenticator(secret: string | undefined): Authenticator {
  if (!secret) return { open: true, authenticate: async () => OPEN_MODE_CALLER };
  const key = new TextEncoder().encode(secret);
  return {
    open: false,
    async authenticate(authorization) {
      const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
      if (!match) throw new UnauthenticatedError('Authentication required: send "Authorization: Bearer <JWT>"');
      let payload: JWTPayload;
      try {
        ({ payload } = await jwtVerify(match[1]!, key, { algorithms: ['HS256'] }));
      } catch (error) {
        throw new UnauthenticatedError(
          error instanceof joseErrors.JWTExpired ? 'The token has expired' : 'The token is not valid (bad signature, format or algorithm)',
        );
      }
      const roles = Array.isArray(payload.roles) ? payload.roles.filter((r): r is Role => ROLES.has(r as Role)) : [];
      if (typeof payload.sub !== 'string' || payload.sub === '' || roles.length === 0) {
        throw new UnauthenticatedError('The token needs a `sub` claim and `roles` with "customer" or "admin"');
      }
      return { userId: payload.sub, roles, ...(typeof payload.exp === 'number' && { expiresAt: payload.exp * 1000 }) };
    },
  };
}

/** A token the authenticator accepts (for development and tests: `converge token`). `expires`: "30m", "1h", "7d". */
export function mintToken(secret: string, claims: { sub: string; roles: readonly string[]; expires: string }): Promise<string> {
  return new SignJWT({ roles: [...claims.roles] })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(claims.sub)
    .setIssuedAt()
    .setExpirationTime(claims.expires)
    .sign(new TextEncoder().encode(secret));
}
