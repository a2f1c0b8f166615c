import { RE2JS } from 're2js';
import { z } from 'zod';
import { maskableSecrets, maskSecrets } from '../../core/env.js';
import type { ConditionOutcome } from '../../core/result.js';
import { type HttpResponse, headerValue } from '../../transport/client.js';
import { providerText } from './api.js';

/**
 * Regular expressions of the registry run on RE2 (re2js, pure JavaScript): matching is linear in
 * the body, so no pattern, `(a+)+$` included, can stall the event loop every probe shares.
 * Backreferences and lookarounds, which need backtracking, are refused at load.
 */
export function compileRegex(source: string): RE2JS {
  return RE2JS.compile(source);
}

function regexProblem(source: string): string | undefined {
  try {
    compileRegex(source);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

const regexString = (what: string) =>
  z
    .string()
    .min(1)
    .superRefine((source, ctx) => {
      const problem = regexProblem(source);
      if (problem)
        ctx.addIssue({
          code: 'custom',
          message: `not a valid RE2 regular expression for ${what}: ${problem}`,
        });
    });

// `a.b`, `items[0].id`, `[2]`: names between dots, each with optional [index]es.
const JSON_PATH = /^(?:[^.[\]\s]+|\[\d+\])(?:\[\d+\])*(?:\.[^.[\]\s]+(?:\[\d+\])*)*$/;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

export const headerName = z.string().regex(HEADER_NAME, 'an HTTP header name');

const statusRule = z.union([
  z.int().min(100).max(599),
  z.array(z.int().min(100).max(599)).min(1),
  z.string().regex(/^[1-5]xx$/, 'a status, a list of statuses, or a class like "2xx"'),
]);

export const expectSchema = z
  .object({
    status: statusRule
      .optional()
      .describe('Healthy statuses: a status, a list (`[200, 204]`) or a class (`"2xx"`); default any 2xx.'),
    body_contains: z
      .string()
      .min(1)
      .optional()
      .describe('Text the body must contain (`body_mismatch` otherwise).'),
    body_matches: regexString('body_matches')
      .optional()
      .describe('RE2 regular expression the body must match (`body_mismatch` otherwise).'),
    json: z
      .record(z.string(), z.union([z.string(), z.number(), z.boolean(), z.null()]))
      .superRefine((rules, ctx) => {
        for (const path of Object.keys(rules)) {
          if (!JSON_PATH.test(path)) {
            ctx.addIssue({
              code: 'custom',
              path: [path],
              message: `${JSON.stringify(path)} is not a JSON path (dotted names, optional [index]: checks.db, items[0].id)`,
            });
          }
        }
      })
      .optional()
      .describe(
        'JSON path (`checks.db`, `items[0].id`) -> the value it must equal exactly (`json_mismatch` otherwise).',
      ),
    headers: z
      .record(headerName, regexString('a header'))
      .optional()
      .describe(
        'Header name (any case) -> RE2 regular expression its value must match (`header_mismatch` otherwise).',
      ),
    max_duration_seconds: z
      .number()
      .positive()
      .optional()
      .describe('Slowest acceptable answer, the whole request included (`slow_response` otherwise).'),
  })
  .strict();

export type Expectations = z.infer<typeof expectSchema>;

/** The DEGRADED codes of failed conditions, in the order that decides which one a probe reports. */
export const CONDITION_ORDER = [
  'body_mismatch',
  'json_mismatch',
  'header_mismatch',
  'slow_response',
] as const;
export type ConditionCode = (typeof CONDITION_ORDER)[number];

export interface ConditionFailure {
  code: ConditionCode;
  detail: string;
}

export interface StatusVerdict {
  healthy: boolean;
  /** The rule in words, e.g. `status in [200, 204]`. */
  rule: string;
  /** What was expected, for a detail: `a 2xx`, `200`, `one of 200, 204`. */
  expected: string;
}

// The default rule's two verdicts, shared: most surfaces have no status rule, and this runs every probe.
const ANY_2XX_MET: StatusVerdict = Object.freeze({ healthy: true, rule: 'status 2xx', expected: 'a 2xx' });
const ANY_2XX_MISSED: StatusVerdict = Object.freeze({
  healthy: false,
  rule: 'status 2xx',
  expected: 'a 2xx',
});

/** Whether a status is healthy; undefined rule: any 2xx. */
export function judgeStatus(rule: Expectations['status'], status: number): StatusVerdict {
  if (rule === undefined) return status >= 200 && status < 300 ? ANY_2XX_MET : ANY_2XX_MISSED;
  if (typeof rule === 'number')
    return { healthy: status === rule, rule: `status ${rule}`, expected: String(rule) };
  if (typeof rule === 'string') {
    return {
      healthy: Math.floor(status / 100) === Number(rule[0]),
      rule: `status ${rule}`,
      expected: `a ${rule}`,
    };
  }
  return {
    healthy: rule.includes(status),
    rule: `status in [${rule.join(', ')}]`,
    expected: `one of ${rule.join(', ')}`,
  };
}

const EXCERPT_CHARS = 60;

/**
 * Checks every condition (so `probe` can print each) and names the first failure in
 * CONDITION_ORDER. Details quote at most a short excerpt, with `secrets` masked.
 */
export function evaluateConditions(
  expect: Expectations,
  response: HttpResponse,
  secrets: readonly string[],
  compiled: (source: string) => RE2JS,
): { outcomes: ConditionOutcome[]; failure: ConditionFailure | undefined } {
  const outcomes: ConditionOutcome[] = [];
  const failures = new Map<ConditionCode, string>();
  // Masked before it is shortened: a cut through a secret would leave its start in the excerpt.
  const maskable = maskableSecrets(secrets);
  const excerpt = (text: string) => JSON.stringify(providerText(shorten(maskSecrets(text, maskable))));
  const record = (code: ConditionCode, rule: string, passed: boolean, seen: string) => {
    outcomes.push({ rule, passed, seen });
    if (!passed && !failures.has(code)) failures.set(code, `${rule} failed: saw ${seen}`);
  };
  let bodyText: string | undefined;
  const body = () => {
    bodyText ??= response.body.toString('utf8');
    return bodyText;
  };
  const cut = response.truncated ? ` (body cut at ${response.body.length} bytes)` : '';

  if (expect.body_contains !== undefined) {
    const at = body().indexOf(expect.body_contains);
    record(
      'body_mismatch',
      `body_contains ${JSON.stringify(expect.body_contains)}`,
      at >= 0,
      at >= 0 ? `it at byte ${at}` : `${excerpt(body())}${cut}`,
    );
  }
  if (expect.body_matches !== undefined) {
    const matcher = compiled(expect.body_matches).matcher(body());
    const found = matcher.find();
    record(
      'body_mismatch',
      `body_matches /${expect.body_matches}/`,
      found,
      found ? excerpt(matcher.group() ?? '') : `${excerpt(body())}${cut}`,
    );
  }
  if (expect.json !== undefined) {
    const parsed = parseJson(body());
    for (const [path, wanted] of Object.entries(expect.json)) {
      const rule = `json ${path} == ${JSON.stringify(wanted)}`;
      if (!parsed.ok) {
        record('json_mismatch', rule, false, `a body that is not JSON${cut}: ${excerpt(body())}`);
        continue;
      }
      const found = lookup(parsed.value, path);
      record(
        'json_mismatch',
        rule,
        found.present && found.value === wanted,
        found.present ? excerpt(JSON.stringify(found.value) ?? 'undefined') : 'no such path',
      );
    }
  }
  for (const [name, pattern] of Object.entries(expect.headers ?? {})) {
    const value = headerValue(response.headers, name);
    const passed = value !== undefined && compiled(pattern).matcher(value).find();
    record(
      'header_mismatch',
      `header ${name.toLowerCase()} =~ /${pattern}/`,
      passed,
      value === undefined ? 'no such header' : excerpt(value),
    );
  }
  if (expect.max_duration_seconds !== undefined) {
    const seconds = response.durationSeconds;
    record(
      'slow_response',
      `duration <= ${expect.max_duration_seconds} s`,
      seconds <= expect.max_duration_seconds,
      `${seconds.toFixed(3)} s`,
    );
  }
  const code = CONDITION_ORDER.find((candidate) => failures.has(candidate));
  return { outcomes, failure: code ? { code, detail: failures.get(code) as string } : undefined };
}

function shorten(text: string): string {
  return text.length > EXCERPT_CHARS ? `${text.slice(0, EXCERPT_CHARS)}…` : text;
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** Follows `a.b[0].c`; own properties only, so `__proto__` or `constructor` never reach a prototype. */
function lookup(root: unknown, path: string): { present: boolean; value?: unknown } {
  let current: unknown = root;
  for (const step of path.match(/[^.[\]]+|\[\d+\]/g) ?? []) {
    if (step.startsWith('[')) {
      const index = Number(step.slice(1, -1));
      if (!Array.isArray(current) || index >= current.length) return { present: false };
      current = current[index];
    } else {
      if (current === null || typeof current !== 'object' || Array.isArray(current))
        return { present: false };
      if (!Object.hasOwn(current, step)) return { present: false };
      current = (current as Record<string, unknown>)[step];
    }
  }
  return { present: true, value: current };
}
