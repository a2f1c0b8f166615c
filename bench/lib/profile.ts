import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number };
  hitCount?: number;
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface FrameCost {
  functionName: string;
  location: string;
  selfMs: number;
  percentOfBusy: number;
}

export interface CpuProfileSummary {
  totalMs: number;
  /** Sampled time minus `(idle)`: what the process spent on the CPU, as the profiler saw it. */
  busyMs: number;
  topFrames: FrameCost[];
  /** Time with the frame anywhere on the stack (self plus callees), for the project's and a few library frames. */
  inclusiveFrames: FrameCost[];
  byPackage: Array<{ name: string; selfMs: number; percentOfBusy: number }>;
}

/** Microseconds on the monotonic clock V8 stamps profile samples with (the same as process.hrtime). */
export function monotonicMicros(): number {
  return Number(process.hrtime.bigint() / 1000n);
}

/**
 * Self time per function and per package from a `node --cpu-prof` file, counting only samples
 * inside `window` (monotonic microseconds), so start-up and shutdown stay out of the picture.
 */
export function summariseCpuProfile(
  file: string,
  window: { fromMicros: number; toMicros: number } = { fromMicros: 0, toMicros: Number.POSITIVE_INFINITY },
  topCount = 25,
): CpuProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const selfMsByNode = new Map<number, number>();
  const parentOf = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parentOf.set(child, node.id);
  const nodesById = new Map(profile.nodes.map((node) => [node.id, node]));
  const inclusiveByFrame = new Map<string, FrameCost>();
  let timestamp = profile.startTime;
  profile.samples.forEach((nodeId, index) => {
    // timeDeltas[i] is the time before sample i; attributing it to sample i is what DevTools does.
    const delta = profile.timeDeltas[index] ?? 0;
    timestamp += delta;
    if (timestamp < window.fromMicros || timestamp > window.toMicros) return;
    selfMsByNode.set(nodeId, (selfMsByNode.get(nodeId) ?? 0) + delta / 1000);
    const onStack = new Set<string>();
    for (let id: number | undefined = nodeId; id !== undefined; id = parentOf.get(id)) {
      const node = nodesById.get(id);
      if (!node || !isInteresting(node.callFrame.url)) continue;
      const { functionName, url, lineNumber } = node.callFrame;
      const location = `${shortenUrl(url)}:${lineNumber + 1}`;
      const key = `${functionName}\u0000${location}`;
      if (onStack.has(key)) continue;
      onStack.add(key);
      const frame = inclusiveByFrame.get(key) ?? {
        functionName: functionName || '(anonymous)',
        location,
        selfMs: 0,
        percentOfBusy: 0,
      };
      frame.selfMs += delta / 1000;
      inclusiveByFrame.set(key, frame);
    }
  });
  const byFrame = new Map<string, FrameCost>();
  const byPackage = new Map<string, number>();
  let totalMs = 0;
  let idleMs = 0;
  for (const node of profile.nodes) {
    const selfMs = selfMsByNode.get(node.id) ?? 0;
    if (selfMs === 0) continue;
    totalMs += selfMs;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === '(idle)') {
      idleMs += selfMs;
      continue;
    }
    const location = url ? `${shortenUrl(url)}:${lineNumber + 1}` : '';
    const key = `${functionName}\u0000${location}`;
    const frame = byFrame.get(key) ?? {
      functionName: functionName || '(anonymous)',
      location,
      selfMs: 0,
      percentOfBusy: 0,
    };
    frame.selfMs += selfMs;
    byFrame.set(key, frame);
    const pkg = packageOf(functionName, url);
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + selfMs);
  }
  const busyMs = totalMs - idleMs;
  const percent = (ms: number) => (busyMs > 0 ? (ms / busyMs) * 100 : 0);
  const topFrames = [...byFrame.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topCount)
    .map((frame) => ({ ...frame, percentOfBusy: percent(frame.selfMs) }));
  const inclusiveFrames = [...inclusiveByFrame.values()]
    .sort((a, b) => b.selfMs - a.selfMs)
    .slice(0, topCount)
    .map((frame) => ({ ...frame, percentOfBusy: percent(frame.selfMs) }));
  return {
    totalMs,
    busyMs,
    topFrames,
    inclusiveFrames,
    byPackage: [...byPackage.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([name, selfMs]) => ({ name, selfMs, percentOfBusy: percent(selfMs) })),
  };
}

/** The project's compiled code and the libraries a probe or a scrape goes through. */
function isInteresting(url: string): boolean {
  return /\/dist\/|\/node_modules\/(undici|prom-client|pino|express|@opentelemetry)\//.test(url);
}

function shortenUrl(url: string): string {
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) return url.slice(modules + '/node_modules/'.length);
  const dist = url.indexOf('/dist/');
  if (dist >= 0) return url.slice(dist + 1);
  return url.replace(/^file:\/\//, '');
}

/** Groups a frame: an npm package, the project's own code, Node's internals, or V8's pseudo-frames. */
function packageOf(functionName: string, url: string): string {
  if (!url) return functionName.startsWith('(') ? functionName : '(native)';
  const modules = url.lastIndexOf('/node_modules/');
  if (modules >= 0) {
    const rest = url.slice(modules + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:internal/')) return `node:internal/${url.slice(14).split('/')[0]}`;
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`;
  if (url.includes('/dist/'))
    return `surface-exporter (${url.slice(url.indexOf('/dist/') + 6).split('/')[0]})`;
  return url;
}
