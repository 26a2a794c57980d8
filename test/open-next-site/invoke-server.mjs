// Imports an OpenNext server function bundle and calls its handler with Lambda Function URL
// (API Gateway v2 format) events, as Lambda would. Usage:
//   node invoke-server.mjs <bundle dir> <path> [<path>...]
// Prints one JSON line: { importMs, results: [{ path, ms, statusCode, headers, body }] }.
// AWS calls (ISR cache, queue, tag cache) go to a closed local port and fail fast.
import { pathToFileURL } from 'node:url';
import { join } from 'node:path';

const [dir, ...paths] = process.argv.slice(2);
Object.assign(process.env, {
  AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test',
  AWS_ENDPOINT_URL: 'http://127.0.0.1:9', AWS_MAX_ATTEMPTS: '1',
  CACHE_BUCKET_NAME: 'cache', CACHE_BUCKET_KEY_PREFIX: '_cache', CACHE_BUCKET_REGION: 'eu-west-1',
  REVALIDATION_QUEUE_URL: 'http://127.0.0.1:9/queue', REVALIDATION_QUEUE_REGION: 'eu-west-1', CACHE_DYNAMO_TABLE: 'tags',
  OPEN_NEXT_ERROR_LOG_LEVEL: '0',
});
process.chdir(dir);

function event(path) {
  const [rawPath, rawQueryString = ''] = path.split('?');
  return {
    version: '2.0', routeKey: '$default', rawPath, rawQueryString,
    headers: {
      host: 'abc123.lambda-url.eu-west-1.on.aws', 'x-forwarded-host': 'zmanim.example.com',
      'x-forwarded-proto': 'https', accept: 'text/html', 'user-agent': 'jest',
    },
    requestContext: {
      accountId: 'anonymous', apiId: 'abc123', domainName: 'abc123.lambda-url.eu-west-1.on.aws', domainPrefix: 'abc123',
      http: { method: 'GET', path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'jest' },
      requestId: 'r-1', routeKey: '$default', stage: '$default', time: new Date().toUTCString(), timeEpoch: Date.now(),
    },
    isBase64Encoded: false,
  };
}

const started = performance.now();
const { handler } = await import(pathToFileURL(join(dir, 'index.mjs')).href);
const importMs = performance.now() - started;
const context = { functionName: 'server', awsRequestId: 'r-1', getRemainingTimeInMillis: () => 30000 };
const results = [];
for (const path of paths) {
  const t0 = performance.now();
  const res = await handler(event(path), context);
  const body = res.isBase64Encoded ? Buffer.from(res.body, 'base64').toString('utf8') : res.body;
  results.push({ path, ms: performance.now() - t0, statusCode: res.statusCode, headers: res.headers, body });
}
process.stdout.write(JSON.stringify({ importMs, results }) + '\n');
process.exit(0);
