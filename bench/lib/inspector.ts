import { request, WebSocket } from 'undici';

export interface HeapUsage {
  usedBytes: number;
  totalBytes: number;
}

/**
 * Forces full garbage collections in a process started with `--inspect=127.0.0.1:PORT`, through
 * the DevTools protocol, then reads its heap: memory as the process retains it, not wherever the
 * GC sawtooth happened to stand.
 */
export async function heapAfterGarbageCollection(
  inspectorPort: number,
  timeoutMs = 30_000,
): Promise<HeapUsage> {
  const socket = await openInspector(inspectorPort);
  const calls = ['HeapProfiler.collectGarbage', 'HeapProfiler.collectGarbage', 'Runtime.getHeapUsage'];
  try {
    return await new Promise<HeapUsage>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('the inspector did not answer in time')), timeoutMs);
      const send = (id: number) => socket.send(JSON.stringify({ id, method: calls[id] }));
      socket.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error('inspector connection failed'));
      });
      socket.addEventListener('open', () => send(0));
      socket.addEventListener('message', (event) => {
        const reply = JSON.parse(String(event.data)) as {
          id?: number;
          error?: { message: string };
          result?: { usedSize?: number; totalSize?: number };
        };
        if (reply.id === undefined) return;
        if (reply.error) {
          clearTimeout(timer);
          reject(new Error(`${calls[reply.id]}: ${reply.error.message}`));
        } else if (reply.id < calls.length - 1) {
          send(reply.id + 1);
        } else {
          clearTimeout(timer);
          resolve({
            usedBytes: reply.result?.usedSize ?? Number.NaN,
            totalBytes: reply.result?.totalSize ?? Number.NaN,
          });
        }
      });
    });
  } finally {
    socket.close();
  }
}

export interface HeapClassCost {
  /** V8's node type and, for objects, the constructor name: `object:SurfaceWorker`, `closure:onAbort`, `string`. */
  kind: string;
  count: number;
  bytes: number;
}

/**
 * Takes a heap snapshot through the inspector and sums the self size of every node by kind, so two
 * snapshots can be diffed into "what each surface costs". Takes a while on large heaps.
 */
export async function heapByKind(
  inspectorPort: number,
  timeoutMs = 120_000,
): Promise<Map<string, HeapClassCost>> {
  const socket = await openInspector(inspectorPort);
  const chunks: string[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error('the heap snapshot did not finish in time')),
        timeoutMs,
      );
      socket.addEventListener('error', () => {
        clearTimeout(timer);
        reject(new Error('inspector connection failed'));
      });
      socket.addEventListener('open', () => {
        socket.send(
          JSON.stringify({
            id: 1,
            method: 'HeapProfiler.takeHeapSnapshot',
            params: { reportProgress: false },
          }),
        );
      });
      socket.addEventListener('message', (event) => {
        const message = JSON.parse(String(event.data)) as {
          id?: number;
          method?: string;
          params?: { chunk?: string };
          error?: { message: string };
        };
        if (message.method === 'HeapProfiler.addHeapSnapshotChunk') chunks.push(message.params?.chunk ?? '');
        else if (message.id === 1) {
          clearTimeout(timer);
          if (message.error) reject(new Error(`takeHeapSnapshot: ${message.error.message}`));
          else resolve();
        }
      });
    });
  } finally {
    socket.close();
  }
  return summariseSnapshot(JSON.parse(chunks.join('')) as HeapSnapshot);
}

interface HeapSnapshot {
  snapshot: { meta: { node_fields: string[]; node_types: [string[], ...unknown[]] } };
  nodes: number[];
  strings: string[];
}

function summariseSnapshot(snapshot: HeapSnapshot): Map<string, HeapClassCost> {
  const fields = snapshot.snapshot.meta.node_fields;
  const stride = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const typeNames = snapshot.snapshot.meta.node_types[0];
  const costs = new Map<string, HeapClassCost>();
  for (let i = 0; i < snapshot.nodes.length; i += stride) {
    const type = typeNames[snapshot.nodes[i + typeAt] as number] ?? 'unknown';
    const name = snapshot.strings[snapshot.nodes[i + nameAt] as number] ?? '';
    // Strings and numbers are grouped by type only: their "name" is their content.
    const kind =
      type === 'object' || type === 'closure' || type === 'native'
        ? `${type}:${name.length > 60 ? `${name.slice(0, 57)}...` : name}`
        : type;
    const cost = costs.get(kind) ?? { kind, count: 0, bytes: 0 };
    cost.count++;
    cost.bytes += snapshot.nodes[i + sizeAt] as number;
    costs.set(kind, cost);
  }
  return costs;
}

/** Per-surface cost by kind: (with - without) / surfaces, largest first. */
export function perSurfaceCosts(
  withSurfaces: Map<string, HeapClassCost>,
  without: Map<string, HeapClassCost>,
  surfaces: number,
): Array<{ kind: string; countPerSurface: number; bytesPerSurface: number }> {
  return [...withSurfaces.values()]
    .map((cost) => {
      const base = without.get(cost.kind);
      return {
        kind: cost.kind,
        countPerSurface: (cost.count - (base?.count ?? 0)) / surfaces,
        bytesPerSurface: (cost.bytes - (base?.bytes ?? 0)) / surfaces,
      };
    })
    .sort((a, b) => b.bytesPerSurface - a.bytesPerSurface);
}

/** A DevTools protocol connection to the first target of a process started with `--inspect`. */
async function openInspector(inspectorPort: number): Promise<WebSocket> {
  const res = await request(`http://127.0.0.1:${inspectorPort}/json/list`, {
    signal: AbortSignal.timeout(5_000),
  });
  const targets = (await res.body.json()) as Array<{ webSocketDebuggerUrl?: string }>;
  const url = targets[0]?.webSocketDebuggerUrl;
  if (!url) throw new Error(`no inspector target on port ${inspectorPort}`);
  return new WebSocket(url);
}
