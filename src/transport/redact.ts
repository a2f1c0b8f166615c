/** A URL fit for logs, traces and CLI output: no userinfo, and no query string values. */
export function redactUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return '<invalid url>';
  }
  url.username = '';
  url.password = '';
  for (const key of [...url.searchParams.keys()]) url.searchParams.set(key, 'REDACTED');
  return url.toString().replaceAll('REDACTED', '***');
}
