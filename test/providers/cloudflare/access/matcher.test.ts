import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  type AccessApplication,
  type AccessPolicy,
  applicationCovering,
  applicationNamed,
  enrollmentIn,
} from '../../../../src/providers/cloudflare/access/matcher.js';

// `xn--` starts a punycode label, which the URL parser decodes (and refuses when it is not valid punycode).
const label = fc.stringMatching(/^[a-z][a-z0-9-]{0,8}[a-z0-9]$/).filter((text) => !text.startsWith('xn--'));
const hostname = fc.array(label, { minLength: 2, maxLength: 4 }).map((labels) => labels.join('.'));
const segment = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const path = fc.array(segment, { maxLength: 4 }).map((segments) => `/${segments.join('/')}`);

function app(domains: string[], name = 'app', policies: AccessPolicy[] = []): AccessApplication {
  return { id: `id-${name}`, name, type: 'self_hosted', domains, policies };
}

describe('URL to Access application matcher (properties)', () => {
  it('a bare host covers every path on exactly that host, and no other host', () => {
    fc.assert(
      fc.property(hostname, hostname, path, (host, other, anyPath) => {
        const apps = [app([host])];
        assert.equal(applicationCovering(apps, `https://${host}${anyPath}`)?.name, 'app');
        assert.equal(applicationCovering(apps, `https://${host.toUpperCase()}:8443${anyPath}`)?.name, 'app');
        if (other !== host) assert.equal(applicationCovering(apps, `https://${other}${anyPath}`), undefined);
      }),
    );
  });

  it('a path prefix covers itself and what lies below it, not a sibling that shares its first letters', () => {
    fc.assert(
      fc.property(hostname, path, path, segment, (host, prefix, rest, extra) => {
        fc.pre(prefix !== '/');
        for (const written of [prefix, `${prefix}/`, `${prefix}/*`]) {
          const apps = [app([`${host}${written}`])];
          assert.equal(applicationCovering(apps, `https://${host}${prefix}`)?.name, 'app', written);
          assert.equal(
            applicationCovering(apps, `https://${host}${prefix}${rest === '/' ? '/' : rest}`)?.name,
            'app',
          );
          assert.equal(applicationCovering(apps, `https://${host}${prefix}${extra}`), undefined);
          if (!`/${extra}`.startsWith(prefix))
            assert.equal(applicationCovering(apps, `https://${host}/${extra}`), undefined);
        }
      }),
    );
  });

  it('*.domain covers subdomains at any depth, never the domain itself or a look-alike', () => {
    fc.assert(
      fc.property(hostname, fc.array(label, { minLength: 1, maxLength: 3 }), path, (base, subs, anyPath) => {
        const apps = [app([`*.${base}`])];
        assert.equal(applicationCovering(apps, `https://${subs.join('.')}.${base}${anyPath}`)?.name, 'app');
        assert.equal(applicationCovering(apps, `https://${base}${anyPath}`), undefined);
        assert.equal(applicationCovering(apps, `https://${subs[0]}${base}${anyPath}`), undefined);
      }),
    );
  });

  it('an application with several domains covers a URL when any one of them does', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(hostname, { minLength: 2, maxLength: 5 }),
        fc.nat(),
        path,
        (hosts, pick, anyPath) => {
          const [outside, ...inside] = hosts as [string, ...string[]];
          const apps = [app(inside, 'many'), app([`${outside}/only-here`], 'other')];
          const chosen = inside[pick % inside.length] as string;
          assert.equal(applicationCovering(apps, `https://${chosen}${anyPath}`)?.name, 'many');
          assert.equal(applicationCovering(apps, `https://${outside}/elsewhere`), undefined);
        },
      ),
    );
  });

  it('the most specific application wins: an exact host over a wildcard, a longer path over a shorter one', () => {
    fc.assert(
      fc.property(hostname, segment, segment, (host, first, second) => {
        const apps = [
          app([`*.${host}`], 'wildcard'),
          app([`www.${host}`], 'exact'),
          app([`www.${host}/${first}`], 'one-deep'),
          app([`www.${host}/${first}/${second}`], 'two-deep'),
        ];
        assert.equal(applicationCovering(apps, `https://api.${host}/`)?.name, 'wildcard');
        assert.equal(applicationCovering(apps, `https://www.${host}/`)?.name, 'exact');
        assert.equal(applicationCovering(apps, `https://www.${host}/${first}/x.html`)?.name, 'one-deep');
        assert.equal(applicationCovering(apps, `https://www.${host}/${first}/${second}/y`)?.name, 'two-deep');
        // Order in the list does not matter.
        assert.equal(
          applicationCovering([...apps].reverse(), `https://www.${host}/${first}/x.html`)?.name,
          'one-deep',
        );
      }),
    );
  });

  it('only self-hosted applications gate a URL', () => {
    const saas = { ...app(['console.example.com']), type: 'saas' };
    assert.equal(applicationCovering([saas], 'https://console.example.com/health'), undefined);
  });

  it('access_app names an application by id or by name', () => {
    const apps = [app(['a.example.com'], 'console'), app(['b.example.com'], 'vault')];
    assert.equal(applicationNamed(apps, 'id-vault')?.name, 'vault');
    assert.equal(applicationNamed(apps, 'console')?.name, 'console');
    assert.equal(applicationNamed(apps, 'nope'), undefined);
  });
});

describe('service token enrollment', () => {
  const TOKEN = 'token-id-1';
  const policy = (over: Partial<AccessPolicy>): AccessPolicy => ({
    id: 'p',
    name: 'service auth',
    decision: 'non_identity',
    include: [],
    exclude: [],
    ...over,
  });

  it('a non_identity policy that includes the token by id enrolls it', () => {
    const result = enrollmentIn(
      app(['x.example.com'], 'console', [policy({ include: [{ service_token: { token_id: TOKEN } }] })]),
      TOKEN,
    );
    assert.deepEqual(result, { enrolled: true, policy: 'service auth' });
  });

  it('any_valid_service_token enrolls every token', () => {
    const result = enrollmentIn(
      app(['x'], 'console', [policy({ include: [{ any_valid_service_token: {} }] })]),
      TOKEN,
    );
    assert.equal(result.enrolled, true);
  });

  it('an Allow policy naming the token does not: Access accepts service tokens only in Service Auth policies', () => {
    const result = enrollmentIn(
      app(['x'], 'console', [
        policy({ decision: 'allow', include: [{ service_token: { token_id: TOKEN } }] }),
      ]),
      TOKEN,
    );
    assert.deepEqual(result, {
      enrolled: false,
      why: 'application console has no Service Auth (non_identity) policy',
    });
  });

  it('another token in the policy is not this one', () => {
    const result = enrollmentIn(
      app(['x'], 'console', [policy({ include: [{ service_token: { token_id: 'other' } }] })]),
      TOKEN,
    );
    assert.deepEqual(result, {
      enrolled: false,
      why: 'token in no Service Auth policy of application console',
    });
  });

  it('an exclude naming the token wins over its include', () => {
    const result = enrollmentIn(
      app(['x'], 'console', [
        policy({
          include: [{ any_valid_service_token: {} }],
          exclude: [{ service_token: { token_id: TOKEN } }],
        }),
      ]),
      TOKEN,
    );
    assert.equal(result.enrolled, false);
    assert.match(result.enrolled ? '' : result.why, /excluded by Service Auth policy service auth/);
  });

  it('an exclude on something a service token does not carry (an email) does not block it', () => {
    const result = enrollmentIn(
      app(['x'], 'console', [
        policy({
          include: [{ service_token: { token_id: TOKEN } }],
          exclude: [{ email: { email: 'a@b.c' } }],
        }),
      ]),
      TOKEN,
    );
    assert.equal(result.enrolled, true);
  });
});
