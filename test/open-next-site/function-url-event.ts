/** A Lambda Function URL (payload 2.0) event, as CloudFront's origin request reaches it. */
export function functionUrlEvent(method: string, rawPath: string, rawQueryString = '', headers: Record<string, string> = {}, body?: Buffer) {
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath,
    rawQueryString,
    headers: { 'host': 'abc123.lambda-url.eu-west-1.on.aws', 'x-forwarded-host': 'site.example.com', 'x-forwarded-proto': 'https', ...headers },
    requestContext: {
      accountId: 'anonymous',
      apiId: 'abc123',
      domainName: 'abc123.lambda-url.eu-west-1.on.aws',
      domainPrefix: 'abc123',
      http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '203.0.113.1', userAgent: 'jest' },
      requestId: 'r-1',
      routeKey: '$default',
      stage: '$default',
      time: new Date().toUTCString(),
      timeEpoch: Date.now(),
    },
    body: body ? body.toString('base64') : undefined,
    isBase64Encoded: Boolean(body),
  };
}
