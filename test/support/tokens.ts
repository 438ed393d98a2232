// Signs test JWTs (HS256, like a real identity provider would).
import { SignJWT } from 'jose';

export const TEST_SECRET = 'test-secret-that-is-at-least-32-characters-long';

export async function signToken(
  claims: { sub?: string; roles?: unknown; tenant?: string },
  options: { secret?: string; expiresIn?: string | number; alg?: string } = {},
): Promise<string> {
  const jwt = new SignJWT(claims as Record<string, unknown>).setProtectedHeader({ alg: options.alg ?? 'HS256' }).setIssuedAt();
  if (options.expiresIn !== undefined) jwt.setExpirationTime(options.expiresIn);
  return jwt.sign(new TextEncoder().encode(options.secret ?? TEST_SECRET));
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
