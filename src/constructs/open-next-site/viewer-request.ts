import { originVerifyFunctionCode } from '../origin-verified-http-api/cloudfront-function-code';

/**
 * Code of an OpenNextSite's CloudFront Function (viewer request, `cloudfront-js-2.0`) on every
 * behaviour that reaches a Lambda Function URL:
 *
 * - copies the viewer's Host into `x-forwarded-host` (the Function URL needs its own Host,
 *   so the origin request policy cannot forward it; OpenNext builds absolute URLs and
 *   redirects from x-forwarded-host), and drops a spoofed x-forwarded-host without a Host;
 * - replaces any viewer copy of the origin-verify header with the current value from the
 *   site's KeyValueStore (written by the rotation, never in a template). The server function
 *   refuses requests without a live value. When the store cannot be read the request goes on
 *   without the header and is refused: the function fails closed.
 */
export function viewerRequestFunctionCode(keyValueStoreId: string, headerName: string, key: string): string {
  return originVerifyFunctionCode(keyValueStoreId, headerName, key, [
    '  const host = request.headers.host;',
    '  if (host && host.value) {',
    "    request.headers['x-forwarded-host'] = { value: host.value };",
    '  } else {',
    "    delete request.headers['x-forwarded-host'];",
    '  }',
  ]);
}
