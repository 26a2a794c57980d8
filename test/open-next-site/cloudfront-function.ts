/**
 * Runs the code of a CloudFront Function (cloudfront-js-2.0) as CloudFront would: the
 * top-level `handler(event)`, with `import cf from 'cloudfront'` bound to a KeyValueStore
 * stand-in whose `get` rejects for a missing key, like the real one.
 */
export function cloudFrontFunction(code: string, store: Map<string, string> = new Map()): (event: any) => Promise<any> {
  const cf = {
    kvs: () => ({
      get: async (key: string) => {
        if (!store.has(key)) throw new Error(`KeyNotFound: ${key}`);
        return store.get(key);
      },
      exists: async (key: string) => store.has(key),
    }),
  };
  const body = code.replace(/^import cf from 'cloudfront';$/m, '');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const handler = new Function('cf', `${body}\nreturn handler;`)(cf);
  return async (event) => handler(event);
}

/** A viewer-request event of a CloudFront Function. */
export function viewerRequestEvent(method: string, uri: string, headers: Record<string, string>, querystring: Record<string, string> = {}) {
  return {
    version: '1.0',
    context: { eventType: 'viewer-request', distributionDomainName: 'd111111abcdef8.cloudfront.net', distributionId: 'E1' },
    viewer: { ip: '203.0.113.1' },
    request: {
      method,
      uri,
      querystring: Object.fromEntries(Object.entries(querystring).map(([k, v]) => [k, { value: v }])),
      headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), { value: v }])),
      cookies: {},
    },
  };
}
