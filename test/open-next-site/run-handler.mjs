// Runs a Lambda handler of an OpenNext bundle the way the Node.js Lambda runtime does: the
// process starts in the bundle folder (LAMBDA_TASK_ROOT), imports the handler module and
// calls its export with the event and a context. Usage:
//   node run-handler.mjs <bundle dir> <module.export> < events.json
// stdin holds a JSON array of events, called one after another in the same process (a warm
// instance). Prints one JSON line: { importMs, results: [{ ms, result } | { ms, error }] }.
//   node run-handler.mjs <bundle dir> <module.export> --lines
// keeps the instance: each stdin line {"id", "event"} is answered by a stdout line
// {"id", "ms", "result"} or {"id", "ms", "error"}, in order.
// The environment is the function's (the caller passes it), plus what Lambda sets.
import { readFileSync } from 'node:fs';
import { register } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

// The Lambda Node.js runtime provides the AWS SDK v3 (OpenNext leaves @aws-sdk/* external):
// resolve those packages from RUNTIME_NODE_MODULES when the bundle does not have them.
const runtimeModules = process.env.RUNTIME_NODE_MODULES;
if (runtimeModules) {
  const parent = pathToFileURL(join(runtimeModules, 'noop.js')).href;
  register(`data:text/javascript,${encodeURIComponent(`
    export async function resolve(specifier, context, next) {
      try { return await next(specifier, context); } catch (e) {
        if (!specifier.startsWith('@aws-sdk/') && !specifier.startsWith('@smithy/')) throw e;
        return next(specifier, { ...context, parentURL: ${JSON.stringify(parent)} });
      }
    }`)}`);
}

const [dir, handlerSpec, mode] = process.argv.slice(2);
const events = mode === '--lines' ? [] : JSON.parse(readFileSync(0, 'utf8'));
process.chdir(dir);
process.env.LAMBDA_TASK_ROOT = dir;
const file = handlerSpec.slice(0, handlerSpec.lastIndexOf('.'));
const exportName = handlerSpec.slice(handlerSpec.lastIndexOf('.') + 1);
const candidates = ['.mjs', '.js', '.cjs'].map((ext) => join(dir, file + ext));
const path = candidates.find((p) => { try { readFileSync(p); return true; } catch { return false; } });

const out = { importMs: 0, results: [] };
const started = performance.now();
const mod = await import(pathToFileURL(path).href);
out.importMs = performance.now() - started;
const handler = mod[exportName];
let n = 0;
async function call(event) {
  n += 1;
  const context = {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME ?? 'fn', awsRequestId: `req-${n}`,
    getRemainingTimeInMillis: () => 30000, callbackWaitsForEmptyEventLoop: true,
  };
  const t0 = performance.now();
  try {
    const result = await handler(event, context);
    return { ms: performance.now() - t0, result };
  } catch (e) {
    return { ms: performance.now() - t0, error: { name: e?.name, message: e?.message, stack: e?.stack } };
  }
}

if (mode === '--lines') {
  const { createInterface } = await import('node:readline');
  // Console output of the app must not mix with the answers on stdout.
  console.log = console.info = console.debug = (...args) => process.stderr.write(args.join(' ') + '\n');
  process.stdout.write(JSON.stringify({ ready: true, importMs: out.importMs }) + '\n');
  for await (const line of createInterface({ input: process.stdin })) {
    if (!line.trim()) continue;
    const { id, event } = JSON.parse(line);
    process.stdout.write(JSON.stringify({ id, ...(await call(event)) }) + '\n');
  }
  process.exit(0);
}
for (const event of events) out.results.push(await call(event));
process.stdout.write(JSON.stringify(out) + '\n');
process.exit(0);
