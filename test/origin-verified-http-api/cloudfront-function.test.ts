import * as vm from 'node:vm';
import { originVerifyFunctionCode } from '../../src/constructs/origin-verified-http-api/cloudfront-function-code';

const KVS_ID = '2b3c4d5e-0000-4000-8000-000000000001';
const VALUE = 'v'.repeat(40) + Date.now();

/**
 * Runs the function code as CloudFront would: `cloudfront` is the runtime's module, here a
 * stub KeyValueStore that records which store and key were read.
 */
function load(store: { get: (key: string) => Promise<string> }) {
  const code = originVerifyFunctionCode(KVS_ID, 'x-origin-verify', 'origin-verify');
  expect(code.split('\n')[0]).toBe("import cf from 'cloudfront';");
  const opened: string[] = [];
  const logs: string[] = [];
  const context = vm.createContext({
    cf: { kvs: (id: string) => (opened.push(id), store) },
    console: { log: (m: string) => logs.push(m) },
  });
  const body = code.replace("import cf from 'cloudfront';", '');
  const handler = vm.runInContext(`${body}\nhandler;`, context) as (event: unknown) => Promise<any>;
  return { handler, opened, logs, size: Buffer.byteLength(code) };
}

const viewerRequest = (headers: Record<string, { value: string }>) => ({
  version: '1.0',
  context: { eventType: 'viewer-request' },
  viewer: { ip: '198.51.100.7' },
  request: { method: 'GET', uri: '/backend/api/v1/health', querystring: {}, headers, cookies: {} },
});

test('adds the value from the KeyValueStore and keeps the rest of the request', async () => {
  const read: string[] = [];
  const { handler, opened, size } = load({ get: async (key) => (read.push(key), VALUE) });
  const request = await handler(viewerRequest({ host: { value: 'zmanim.shtetl.io' }, accept: { value: 'application/json' } }));
  expect(request.headers['x-origin-verify']).toEqual({ value: VALUE });
  expect(request.headers.host).toEqual({ value: 'zmanim.shtetl.io' });
  expect(request.uri).toBe('/backend/api/v1/health');
  expect(opened).toEqual([KVS_ID]);
  expect(read).toEqual(['origin-verify']);
  expect(size).toBeLessThan(10_240); // CloudFront Functions limit
});

test("replaces a viewer's own header: a guessed value never reaches the API", async () => {
  const { handler } = load({ get: async () => VALUE });
  const request = await handler(viewerRequest({ 'x-origin-verify': { value: 'guess' } }));
  expect(request.headers['x-origin-verify']).toEqual({ value: VALUE });
});

test('fails closed: without a value in the store the header is removed, the request goes on and the API denies it', async () => {
  const { handler, logs } = load({ get: async () => { throw new Error('The key origin-verify does not exist'); } });
  const request = await handler(viewerRequest({ 'x-origin-verify': { value: 'guess' }, 'host': { value: 'zmanim.shtetl.io' } }));
  expect(request.headers['x-origin-verify']).toBeUndefined();
  expect(request.headers.host).toEqual({ value: 'zmanim.shtetl.io' });
  expect(logs).toEqual(['origin-verify value unavailable: Error: The key origin-verify does not exist']);
});
