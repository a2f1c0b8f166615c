import type { Request } from 'express';
import { maskableSecrets, maskSecrets } from '../core/env.js';
import type { PushReport } from '../core/push.js';

export const MAX_PUSH_DETAIL_LENGTH = 256;
// As every seconds field of the registry.
const MAX_PUSH_DURATION_SECONDS = 86_400;
const PUSH_KEYS = ['status', 'detail', 'duration_seconds'] as const;

/** A push refused for its content: the message says which parameter and what it must be. */
export class PushInputError extends Error {}

export type PushInput = Pick<PushReport, 'status' | 'detail' | 'durationSeconds'>;

/**
 * The report of a push, from the query or a JSON object body (not both for one key). Values are
 * never quoted back: a job that put its token in the wrong parameter must not see it echoed.
 */
export function parsePushInput(req: Request, secrets: readonly string[]): PushInput {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(req.query)) fields[key] = value;
  for (const [key, value] of Object.entries(jsonBody(req))) {
    if (Object.hasOwn(fields, key))
      throw new PushInputError(`${key} is given both in the query and the body`);
    fields[key] = value;
  }
  const unknown = Object.keys(fields).filter((key) => !(PUSH_KEYS as readonly string[]).includes(key));
  if (unknown.length > 0)
    throw new PushInputError(
      `unknown parameter ${unknown.slice(0, 3).join(', ')} (a push takes ${PUSH_KEYS.join(', ')})`,
    );
  const status = fields.status ?? 'ok';
  if (status !== 'ok' && status !== 'fail') throw new PushInputError('status must be ok or fail');
  return {
    status,
    detail: detailOf(fields.detail, secrets),
    durationSeconds: durationOf(fields.duration_seconds),
  };
}

function jsonBody(req: Request): Record<string, unknown> {
  const raw = req.body;
  if (!Buffer.isBuffer(raw) || raw.length === 0) return {};
  if (!req.is('application/json'))
    throw new PushInputError('a body must be JSON (Content-Type: application/json), or use the query');
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw.toString('utf8'));
  } catch {
    throw new PushInputError('malformed JSON body');
  }
  if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
    throw new PushInputError(`the JSON body must be an object of ${PUSH_KEYS.join(', ')}`);
  return parsed as Record<string, unknown>;
}

function detailOf(value: unknown, secrets: readonly string[]): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new PushInputError('detail must be a string');
  if (value.length > MAX_PUSH_DETAIL_LENGTH)
    throw new PushInputError(`detail must be at most ${MAX_PUSH_DETAIL_LENGTH} characters`);
  if (/\p{C}/u.test(value)) throw new PushInputError('detail must be printable (no control characters)');
  return maskSecrets(value, maskableSecrets(secrets));
}

function durationOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (
    typeof seconds !== 'number' ||
    !Number.isFinite(seconds) ||
    seconds < 0 ||
    seconds > MAX_PUSH_DURATION_SECONDS
  )
    throw new PushInputError(
      `duration_seconds must be a number of seconds from 0 to ${MAX_PUSH_DURATION_SECONDS}`,
    );
  return seconds;
}
