/** STATUS_PAGE: who may see the page, the JSON and the badges. */
export type StatusPageMode = 'public' | 'token' | 'off';

export const STATUS_PAGE_MODES: readonly StatusPageMode[] = ['public', 'token', 'off'];

/** The value of STATUS_PAGE, or a message naming the variable and what it got. */
export function parseStatusPageMode(value: string | undefined): StatusPageMode | { error: string } {
  const mode = (value?.trim() || 'public') as StatusPageMode;
  if (STATUS_PAGE_MODES.includes(mode)) return mode;
  return {
    error: `STATUS_PAGE: expected one of ${STATUS_PAGE_MODES.join(', ')}, got ${JSON.stringify(value)}`,
  };
}

/**
 * `token` reuses the /metrics credentials; without any there would be nothing to ask for, and an
 * operator who wrote `token` did not mean an open page: a message for refusing to start, or undefined.
 */
export function statusPageCredentialsProblem(
  mode: StatusPageMode,
  scrapeCredentials: { bearer?: string; basic?: string },
): string | undefined {
  if (mode !== 'token' || scrapeCredentials.bearer || scrapeCredentials.basic) return undefined;
  return 'STATUS_PAGE=token takes the /metrics credentials, but neither METRICS_TOKEN nor METRICS_BASIC_AUTH is set';
}
