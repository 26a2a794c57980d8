/**
 * Code of the CloudFront Function (viewer request, `cloudfront-js-2.0`) that attaches the
 * origin-verify header to requests for the API. The value comes from a CloudFront
 * KeyValueStore that the rotation function writes, so it is never in a template and a
 * rotation reaches every edge in seconds without a deployment.
 *
 * A viewer's own copy of the header is always removed. When the store has no value (not yet
 * rotated, or unreadable) the request goes on without the header and the API denies it:
 * the function fails closed and never breaks the rest of the site.
 */
export function originVerifyFunctionCode(keyValueStoreId: string, headerName: string, key: string, before: string[] = []): string {
  return [
    "import cf from 'cloudfront';",
    `const store = cf.kvs('${keyValueStoreId}');`,
    'async function handler(event) {',
    '  const request = event.request;',
    // What another function does to the request first (OpenNextSite: x-forwarded-host).
    ...before,
    `  delete request.headers['${headerName}'];`,
    '  try {',
    `    request.headers['${headerName}'] = { value: await store.get('${key}') };`,
    '  } catch (e) {',
    "    console.log('origin-verify value unavailable: ' + e);",
    '  }',
    '  return request;',
    '}',
    '',
  ].join('\n');
}
