#!/usr/bin/env node
import { runCli } from './cli';
import { processIo } from './io';

// The `shtetl-ops` bin (bundled into assets/ops/shtetl-ops.js by `npx projen bundle:ops`).
void runCli(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
