/**
 * Which Access application gates a URL, and whether a service token gets through it: the rules the
 * runbook's prerequisite states ("the service token must be enrolled in a non_identity policy").
 * Pure functions over what the management API lists (provider-apis.md §8.2).
 */

export interface AccessRule {
  service_token?: { token_id?: string };
  any_valid_service_token?: Record<string, unknown>;
  [other: string]: unknown;
}

export interface AccessPolicy {
  id: string;
  name: string;
  decision: string;
  include: AccessRule[];
  exclude: AccessRule[];
}

export interface AccessApplication {
  id: string;
  name: string;
  type: string | undefined;
  /** `domain`, `self_hosted_domains[]` and the public `destinations[]`, as written: host with an optional path. */
  domains: string[];
  policies: AccessPolicy[];
}

interface ParsedDomain {
  /** Lower case, without a port; `*.example.com` keeps its star. */
  host: string;
  wildcard: boolean;
  /** "" for the whole host; else starts with "/" and has no trailing "/" or "*". */
  path: string;
}

function parseDomain(domain: string): ParsedDomain | undefined {
  const trimmed = domain.trim().replace(/^[a-z]+:\/\//i, '');
  if (!trimmed) return undefined;
  const slash = trimmed.indexOf('/');
  const hostPart = (slash < 0 ? trimmed : trimmed.slice(0, slash)).toLowerCase().replace(/:\d+$/, '');
  // Access treats `/admin`, `/admin/` and `/admin/*` alike: everything under /admin.
  const path =
    slash < 0
      ? ''
      : trimmed
          .slice(slash)
          .replace(/\/?\*?$/, '')
          .replace(/\/+$/, '');
  if (!hostPart) return undefined;
  const wildcard = hostPart.startsWith('*.');
  return { host: wildcard ? hostPart.slice(2) : hostPart, wildcard, path };
}

/** How closely a domain covers a URL: undefined when it does not, higher when more specific. */
export function domainCoverage(domain: string, url: URL): number | undefined {
  const parsed = parseDomain(domain);
  if (!parsed) return undefined;
  const host = url.hostname.toLowerCase().replace(/\.$/, '');
  // `*.example.com` covers every name below example.com (any depth), not example.com itself.
  const hostMatches = parsed.wildcard ? host.endsWith(`.${parsed.host}`) : host === parsed.host;
  if (!hostMatches) return undefined;
  const path = url.pathname;
  if (parsed.path && path !== parsed.path && !path.startsWith(`${parsed.path}/`)) return undefined;
  // An exact host beats a wildcard; then the longer path wins, as Access picks the most specific app.
  return (parsed.wildcard ? 0 : 1_000_000) + parsed.path.length;
}

/** The self-hosted application that gates a URL (the most specific one), or undefined. */
export function applicationCovering(
  applications: readonly AccessApplication[],
  url: string,
): AccessApplication | undefined {
  let parsedUrl: URL;
  try {
    parsedUrl = new URL(url);
  } catch {
    return undefined;
  }
  let best: { app: AccessApplication; score: number } | undefined;
  for (const app of applications) {
    // Only self-hosted applications sit in front of a URL; SaaS, SSH or infrastructure apps do not.
    if (app.type !== undefined && app.type !== 'self_hosted') continue;
    for (const domain of app.domains) {
      const score = domainCoverage(domain, parsedUrl);
      if (score !== undefined && (!best || score > best.score)) best = { app, score };
    }
  }
  return best?.app;
}

/** The application a surface names with `access_app`, by id or by name. */
export function applicationNamed(
  applications: readonly AccessApplication[],
  nameOrId: string,
): AccessApplication | undefined {
  return (
    applications.find((app) => app.id === nameOrId) ??
    applications.find((app) => app.name === nameOrId) ??
    applications.find((app) => app.name.toLowerCase() === nameOrId.toLowerCase())
  );
}

function namesToken(rule: AccessRule, tokenId: string): boolean {
  return rule.service_token?.token_id === tokenId || rule.any_valid_service_token !== undefined;
}

export type Enrollment = { enrolled: true; policy: string } | { enrolled: false; why: string };

/**
 * Whether a service token gets through an application: a Service Auth (non_identity) policy includes
 * it by id or as any valid service token, and none of that policy's exclude rules names it. Rules on
 * other things (emails, IPs, countries) cannot match a service token and are not evaluated.
 */
export function enrollmentIn(app: AccessApplication, tokenId: string): Enrollment {
  const serviceAuth = app.policies.filter((policy) => policy.decision === 'non_identity');
  if (serviceAuth.length === 0)
    return { enrolled: false, why: `application ${app.name} has no Service Auth (non_identity) policy` };
  let excludedBy: string | undefined;
  for (const policy of serviceAuth) {
    if (!policy.include.some((rule) => namesToken(rule, tokenId))) continue;
    if (policy.exclude.some((rule) => namesToken(rule, tokenId))) {
      excludedBy ??= policy.name;
      continue;
    }
    return { enrolled: true, policy: policy.name };
  }
  if (excludedBy)
    return {
      enrolled: false,
      why: `token excluded by Service Auth policy ${excludedBy} of application ${app.name}`,
    };
  return { enrolled: false, why: `token in no Service Auth policy of application ${app.name}` };
}
