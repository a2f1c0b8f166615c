#!/usr/bin/env node
// SIGHUP's default action ends the process, and loading the modules takes a while (longer under a
// loader): hangups are held from the first instruction until `serve` answers them (or another
// command gives the default back).
let heldHangups = 0;
const holdHangup = () => {
  heldHangups++;
};
process.on('SIGHUP', holdHangup);

const { runCli } = await import('./cli/run.js');

const takeHeldHangups = () => {
  process.off('SIGHUP', holdHangup);
  const count = heldHangups;
  heldHangups = 0;
  return count;
};

process.exitCode = await runCli(process.argv.slice(2), {
  env: process.env,
  stdout: process.stdout,
  stderr: process.stderr,
  takeHeldHangups,
});
