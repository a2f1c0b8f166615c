import { createHash, timingSafeEqual } from 'node:crypto';

/** Compares a presented bearer token with the expected one in constant time (hashing first evens out lengths). */
export function bearerMatches(authorization: string | undefined, expected: string): boolean {
  const match = /^Bearer\s+(.+)$/i.exec(authorization ?? '');
  const presented = match?.[1]?.trim() ?? '';
  const digest = (value: string) => createHash('sha256').update(value).digest();
  return timingSafeEqual(digest(presented), digest(expected)) && presented.length > 0;
}
