import type { Socket } from 'node:net';
import type { DetailedPeerCertificate, TLSSocket } from 'node:tls';
import type { TlsPeer } from '../core/result.js';

/**
 * Seconds between two performance.now() marks, to the microsecond: finer digits are timer noise,
 * and every probe formats these for /metrics and the span, where a shorter number is cheaper.
 */
export function secondsBetween(fromMs: number, toMs: number): number {
  return Math.round(Math.max(0, toMs - fromMs) * 1000) / 1e6;
}

/** What the exporter learnt about a connection when it was made. Kept with the connection. */
export interface ConnectionFacts {
  tls: TlsPeer | undefined;
  resolveSeconds: number;
  connectSeconds: number;
  tlsSeconds: number;
  /** Set by the first request on the connection, which alone carries the connect timings. */
  used: boolean;
}

/** performance.now() marks taken while a connection was made; 0 where the event did not happen. */
export interface ConnectMarks {
  started: number;
  /** No `lookup` event for an IP literal: resolving took no time. */
  lookedUp: number;
  connected: number;
}

/** Called once, when undici hands over a connected (and, for HTTPS, verified) socket. */
export function measureConnection(socket: Socket, marks: ConnectMarks): ConnectionFacts {
  const now = performance.now();
  const lookedUp = marks.lookedUp || marks.started;
  const connected = marks.connected || now;
  const secure = 'getPeerCertificate' in socket;
  return {
    tls: secure ? readPeer(socket as TLSSocket) : undefined,
    resolveSeconds: secondsBetween(marks.started, lookedUp),
    connectSeconds: secondsBetween(lookedUp, connected),
    tlsSeconds: secure ? secondsBetween(connected, now) : 0,
    used: false,
  };
}

function readPeer(socket: TLSSocket): TlsPeer | undefined {
  const leaf = socket.getPeerCertificate(true);
  if (!leaf?.valid_to) return undefined;
  let earliest = Date.parse(leaf.valid_to);
  const seen = new Set<string>([leaf.fingerprint256]);
  let current: DetailedPeerCertificate | undefined = leaf.issuerCertificate;
  // A self-signed root names itself as its issuer; the set also stops any other loop.
  while (current?.valid_to && !seen.has(current.fingerprint256)) {
    seen.add(current.fingerprint256);
    earliest = Math.min(earliest, Date.parse(current.valid_to));
    current = current.issuerCertificate;
  }
  return {
    subject: distinguishedName(leaf.subject),
    issuer: distinguishedName(leaf.issuer),
    sans: leaf.subjectaltname ? leaf.subjectaltname.split(', ') : [],
    notAfter: new Date(Date.parse(leaf.valid_to)).toISOString(),
    earliestExpirySeconds: earliest / 1000,
  };
}

function distinguishedName(name: object | undefined): string {
  if (!name) return '';
  return Object.entries(name as Record<string, string | string[]>)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ');
}

const TLS_FAILURE_KINDS: Record<string, string> = {
  CERT_HAS_EXPIRED: 'certificate expired',
  CERT_NOT_YET_VALID: 'certificate not yet valid',
  ERR_TLS_CERT_ALTNAME_INVALID: 'name mismatch',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'unknown issuer (self-signed)',
  SELF_SIGNED_CERT_IN_CHAIN: 'unknown issuer (self-signed root)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'unknown issuer',
  UNABLE_TO_GET_ISSUER_CERT: 'unknown issuer',
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: 'unknown issuer',
};

/** Which of expired, not yet valid, unknown issuer or name mismatch a TLS failure was. */
export function describeTlsFailure(codes: readonly string[]): string | undefined {
  for (const code of codes) {
    const kind = TLS_FAILURE_KINDS[code];
    if (kind) return kind;
  }
  return undefined;
}
