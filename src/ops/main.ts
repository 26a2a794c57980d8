#!/usr/bin/env node
import { runCli } from './cli';
import { processIo } from './io';

// The `shtetl-ops` bin (bundled into assets/ops/shtetl-ops.js by `npx projen bundle:ops`).
// The SDK inside is fixed at build time: its warning that future SDK versions will need a
// newer node concerns no user of this file (the package supports node 20).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
void runCli(process.argv.slice(2), processIo()).then((code) => {
  process.exitCode = code;
});
