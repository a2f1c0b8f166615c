// The one file of the status page that knows where the error-code docs live.
import { codeFamily, runbookAnchor } from '../core/codes.js';
import { ERROR_CODE_DOCS } from '../providers/index.js';

export interface CodeHelp {
  /** The code or its family as the runbook titles it, e.g. `health_http_<status>`. */
  family: string;
  meaning: string;
  /** The one-line fix. */
  action: string;
  /** The heading anchor of the code's section in docs/runbook.md. */
  anchor: string;
}

const HELP: ReadonlyMap<string, CodeHelp> = new Map(
  ERROR_CODE_DOCS.map((doc) => [
    doc.code,
    { family: doc.code, meaning: doc.meaning, action: doc.action, anchor: runbookAnchor(doc) },
  ]),
);

export function codeHelp(code: string): CodeHelp | undefined {
  return HELP.get(codeFamily(code));
}

export function allCodeHelp(): Iterable<CodeHelp> {
  return HELP.values();
}
