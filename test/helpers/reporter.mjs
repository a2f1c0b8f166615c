// The test reporter of `npm test` and of the second run in .ci/run, whatever the Node major: node's
// spec output (its closing `ℹ tests/pass/fail` lines included), then one summary line to grep.
// Plain JavaScript, so that node loads it before any TypeScript loader.
import { Transform } from 'node:stream';
import { spec } from 'node:test/reporters';

const COUNTS = ['tests', 'suites', 'pass', 'fail', 'cancelled', 'skipped', 'todo', 'duration_ms'];

class SpecWithSummary extends Transform {
  #spec = new spec();
  #counts = new Map();

  constructor() {
    super({ writableObjectMode: true });
    this.#spec.on('data', (chunk) => this.push(chunk));
  }

  _transform(event, _encoding, callback) {
    // The run's totals arrive as its last top-level diagnostics, e.g. "pass 812".
    if (event.type === 'test:diagnostic' && event.data.nesting === 0) {
      const [name, value] = String(event.data.message).split(' ');
      if (COUNTS.includes(name) && value !== undefined) this.#counts.set(name, Number(value));
    }
    this.#spec.write(event, callback);
  }

  _flush(callback) {
    this.#spec.once('end', () => {
      this.push(`${summaryLine(this.#counts)}\n`);
      callback();
    });
    this.#spec.end();
  }
}

function summaryLine(counts) {
  const count = (name) => counts.get(name) ?? 0;
  const failed = count('fail') + count('cancelled');
  const seconds = (count('duration_ms') / 1000).toFixed(1);
  return `${failed > 0 ? 'FAILED' : 'PASSED'}: ${count('pass')} of ${count('tests')} tests passed, ${count('fail')} failed, ${count('cancelled')} cancelled, ${count('skipped')} skipped, ${count('todo')} todo (${seconds} s)`;
}

export default new SpecWithSummary();
