/** The page at `/`: where to go next, nothing about the surfaces themselves. */
export function landingPage(version: string): string {
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>surface-exporter</title></head>
<body>
<h1>surface-exporter ${escapeHtml(version)}</h1>
<ul>
<li><a href="/metrics">/metrics</a>: Prometheus metrics (OpenMetrics with exemplars when asked for)</li>
<li><a href="/health">/health</a>: poller heartbeat</li>
<li><code>GET /api/_internal/poller-status</code>: every surface's state (bearer token)</li>
<li><code>POST /api/force-poll?env=&amp;surface=</code>: probe now (bearer token)</li>
<li><code>POST /-/reload</code>: re-read the registry (bearer token)</li>
</ul>
</body>
</html>
`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);
}
