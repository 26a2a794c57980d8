import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, Server } from 'node:https';
import { AddressInfo } from 'node:net';
import { join, relative } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { cloudFrontFunction } from './cloudfront-function';
import { deployedFunction, LambdaInstance } from './lambda-runner';
import { matchesPathPattern } from '../../src/constructs/open-next-site/behaviors';

/** The managed origin request policy AllViewerExceptHostHeader. */
const ALL_VIEWER_EXCEPT_HOST = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';

const MIME: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'application/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.svg': 'image/svg+xml',
  '.woff2': 'font/woff2',
  '.map': 'application/json',
};
/** Content types a Function URL passes as text; every other body is base64-encoded in the event. */
const TEXT_TYPES = /^(text\/|application\/(json|javascript|xml|x-www-form-urlencoded)|.*\+json|.*\+xml)/;

export interface HarnessResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: Buffer;
  /** Which behaviour (path pattern) and origin kind answered, for assertions. */
  readonly route: { readonly pattern: string; readonly origin: 's3' | 'function' | 'viewer-function' };
  readonly text: () => string;
  readonly json: () => any;
}

export interface HarnessRequest {
  readonly method?: string;
  readonly headers?: Record<string, string>;
  readonly body?: Buffer | string;
}

/**
 * Applies a synthesized OpenNextSite distribution to HTTP requests, locally:
 *
 * - the behaviour: the first cache behaviour whose path pattern matches, else the default;
 *   its allowed methods (others get 403, as CloudFront answers);
 * - its viewer-request CloudFront Function, the real code from the template, with the
 *   KeyValueStore given here;
 * - the origin: S3 answers from the files the template's BucketDeployments upload (the
 *   staged assets of the cloud assembly, with their Cache-Control); a Lambda Function URL
 *   origin gets the request as the origin request policy forwards it (all viewer headers but
 *   Host, all query strings and cookies) and is answered by the real handler of the
 *   function behind the URL, run by a warm LambdaInstance. IAM auth is emulated: without
 *   origin access control an AWS_IAM URL answers 403; with it, a request with a body and no
 *   x-amz-content-sha256 answers 403 (origin access control does not sign bodies).
 *
 * Not emulated: CloudFront's cache (every request goes to the origin), compression, the
 * response headers policy, Lambda's payload limits.
 */
export class CloudFrontHarness {
  private readonly resources: Record<string, any>;
  private readonly config: any;
  private readonly instances = new Map<string, LambdaInstance>();
  private readonly objects = new Map<string, { file: string; cacheControl?: string }>();
  /** Every function-origin request, for assertions: function logical id and the event. */
  public readonly originRequests: { functionId: string; event: any }[] = [];
  /** Code folders to run instead of a function's staged asset (e.g. with native modules for this CPU). */
  public readonly codeOverrides = new Map<string, string>();
  private server?: Server;

  constructor(
    private readonly stack: Stack,
    private readonly assemblyDir: string,
    /** The KeyValueStore of the viewer-request functions. */
    public readonly keyValueStore: Map<string, string>,
    /** Stand-in names for references in function environments, and the AWS endpoint environment. */
    private readonly names: Record<string, string>,
    private readonly awsEnv: Record<string, string>,
  ) {
    this.resources = Template.fromStack(stack).toJSON().Resources;
    const [distribution] = Object.values(this.resources).filter((r: any) => r.Type === 'AWS::CloudFront::Distribution') as any[];
    this.config = distribution.Properties.DistributionConfig;
    this.loadBucketDeployments();
  }

  /** The running instance of a function (started on first use). */
  public instance(functionId: string, extraEnv: Record<string, string> = {}): LambdaInstance {
    let i = this.instances.get(functionId);
    if (!i) {
      const fn = deployedFunction(this.stack, this.assemblyDir, functionId, this.names);
      i = new LambdaInstance({ ...fn, dir: this.codeOverrides.get(functionId) ?? fn.dir }, { ...this.awsEnv, ...extraEnv });
      this.instances.set(functionId, i);
    }
    return i;
  }

  /**
   * Serves the distribution over HTTPS on 127.0.0.1 (for callers that make real requests, such
   * as OpenNext's revalidation function). Returns the host (`127.0.0.1:port`).
   */
  public async listen(tls: { key: Buffer; cert: Buffer }): Promise<string> {
    this.server = createServer(tls, (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', async () => {
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k !== 'host').map(([k, v]) => [k, Array.isArray(v) ? v.join(', ') : String(v)]));
        const r = await this.fetch(String(req.headers.host), req.url ?? '/', {
          method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined,
        });
        res.writeHead(r.status, r.headers);
        res.end(r.body);
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public stop(): void {
    for (const i of this.instances.values()) i.stop();
    this.server?.close();
  }

  /** Answers `pathAndQuery` as the distribution would (`host` is the viewer's Host header). */
  public async fetch(host: string, pathAndQuery: string, req: HarnessRequest = {}): Promise<HarnessResponse> {
    const method = (req.method ?? 'GET').toUpperCase();
    const [path, query = ''] = pathAndQuery.split('?');
    const behaviors: any[] = this.config.CacheBehaviors ?? [];
    const behavior = behaviors.find((b) => matchesPathPattern(b.PathPattern, path)) ?? this.config.DefaultCacheBehavior;
    const pattern = behavior.PathPattern ?? '*';
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body, 'utf8');
    if (!(behavior.AllowedMethods ?? ['GET', 'HEAD']).includes(method)) {
      return response(403, { 'content-type': 'text/html' }, Buffer.from('403 ERROR: This distribution is not configured to allow the HTTP request method'), pattern, 'viewer-function');
    }

    // Viewer request: the CloudFront Function, if any.
    const viewerHeaders: Record<string, string> = { host, ...lower(req.headers ?? {}) };
    let request: any = {
      method,
      uri: path,
      querystring: Object.fromEntries([...new URLSearchParams(query)].map(([k, v]) => [k, { value: v }])),
      headers: Object.fromEntries(Object.entries(viewerHeaders).map(([k, v]) => [k, { value: v }])),
      cookies: {},
    };
    for (const association of behavior.FunctionAssociations ?? []) {
      if (association.EventType !== 'viewer-request') continue;
      const fnId = association.FunctionARN['Fn::GetAtt'][0];
      const code = resolveJoin(this.resources[fnId].Properties.FunctionCode);
      const result = await cloudFrontFunction(code, this.keyValueStore)({
        version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '203.0.113.9' }, request,
      });
      if (result.statusCode) {
        return response(result.statusCode, Object.fromEntries(Object.entries(result.headers ?? {}).map(([k, v]: any) => [k, v.value])),
          Buffer.from(result.body?.data ?? ''), pattern, 'viewer-function');
      }
      request = result;
    }
    const headers: Record<string, string> = Object.fromEntries(Object.entries(request.headers).map(([k, v]: any) => [k, v.value]));
    const querystring = new URLSearchParams(Object.entries(request.querystring).map(([k, v]: any): [string, string] => [k, v.value])).toString();

    const origin = this.config.Origins.find((o: any) => o.Id === behavior.TargetOriginId);
    if (origin.S3OriginConfig) {
      if (method !== 'GET' && method !== 'HEAD') return response(403, {}, Buffer.from('AccessDenied'), pattern, 's3');
      const bucketId = origin.DomainName['Fn::GetAtt'][0];
      const key = `${(origin.OriginPath ?? '').replace(/^\//, '')}${request.uri}`.replace(/^\//, '');
      const object = this.objects.get(`${bucketId}/${key}`);
      // Origin access control without s3:ListBucket: a missing key is 403, not 404.
      if (!object) return response(403, { 'content-type': 'application/xml' }, Buffer.from('<Error><Code>AccessDenied</Code></Error>'), pattern, 's3');
      const content = readFileSync(object.file);
      const type = MIME[object.file.slice(object.file.lastIndexOf('.'))] ?? 'application/octet-stream';
      return response(200, { 'content-type': type, ...(object.cacheControl ? { 'cache-control': object.cacheControl } : {}) },
        method === 'HEAD' ? Buffer.alloc(0) : content, pattern, 's3');
    }

    // A Lambda Function URL origin.
    const urlId = findGetAtt(origin.DomainName, 'FunctionUrl');
    if (!urlId) throw new Error(`harness: origin ${origin.Id} is neither S3 nor a Function URL of this stack`);
    const url = this.resources[urlId].Properties;
    const functionId = url.TargetFunctionArn['Fn::GetAtt'][0];
    if (behavior.OriginRequestPolicyId !== ALL_VIEWER_EXCEPT_HOST) {
      throw new Error(`harness: behaviour ${pattern} uses origin request policy ${JSON.stringify(behavior.OriginRequestPolicyId)}, which it does not emulate`);
    }
    if (url.AuthType === 'AWS_IAM') {
      if (!origin.OriginAccessControlId) return response(403, { 'content-type': 'application/json' }, Buffer.from('{"Message":"Forbidden"}'), pattern, 'function');
      if (body && body.length > 0 && !headers['x-amz-content-sha256']) {
        return response(403, { 'content-type': 'application/json' },
          Buffer.from('{"message":"The request signature we calculated does not match the signature you provided."}'), pattern, 'function');
      }
    }
    const domain = `${urlId.toLowerCase()}.lambda-url.eu-west-1.on.aws`;
    // The Function URL front end adds x-forwarded-*; a viewer host with a port (only in this
    // harness, which listens on 127.0.0.1:port) keeps it consistent with x-forwarded-port.
    const port = /:(\d+)$/.exec(host)?.[1] ?? '443';
    const forwarded: Record<string, string> = {
      ...headers,
      'host': domain,
      'x-forwarded-proto': 'https',
      'x-forwarded-port': port,
      'x-forwarded-for': '203.0.113.9',
      'via': '2.0 harness.cloudfront.net (CloudFront)',
      'x-amz-cf-id': 'harness',
    };
    const cookieHeader = forwarded.cookie;
    delete forwarded.cookie;
    const contentType = forwarded['content-type'] ?? '';
    const binary = body !== undefined && !TEXT_TYPES.test(contentType);
    const event = {
      version: '2.0',
      routeKey: '$default',
      rawPath: request.uri,
      rawQueryString: querystring,
      ...(cookieHeader ? { cookies: cookieHeader.split(/;\s*/) } : {}),
      headers: forwarded,
      queryStringParameters: querystring ? Object.fromEntries(new URLSearchParams(querystring)) : undefined,
      requestContext: {
        accountId: 'anonymous',
        apiId: urlId.toLowerCase(),
        domainName: domain,
        domainPrefix: urlId.toLowerCase(),
        http: { method, path: request.uri, protocol: 'HTTP/1.1', sourceIp: '203.0.113.9', userAgent: forwarded['user-agent'] ?? '' },
        requestId: `r-${this.originRequests.length + 1}`,
        routeKey: '$default',
        stage: '$default',
        time: new Date().toUTCString(),
        timeEpoch: Date.now(),
      },
      ...(body !== undefined ? { body: binary ? body.toString('base64') : body.toString('utf8'), isBase64Encoded: binary } : { isBase64Encoded: false }),
    };
    this.originRequests.push({ functionId, event });
    const answer = await this.instance(functionId).invoke(event);
    if (answer.error) return response(502, {}, Buffer.from(`Lambda error: ${answer.error.message}`), pattern, 'function');
    const r = answer.result;
    const out: Record<string, string> = lower(r.headers ?? {});
    if (r.cookies && r.cookies.length > 0) out['set-cookie'] = r.cookies.join(', ');
    const responseBody = r.body === undefined || r.body === null ? Buffer.alloc(0) : Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8');
    return response(r.statusCode ?? 200, out, method === 'HEAD' ? Buffer.alloc(0) : responseBody, pattern, 'function');
  }

  /** The function logical ids of every Function URL origin, by behaviour pattern. */
  public functionOrigins(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const b of [...(this.config.CacheBehaviors ?? []), this.config.DefaultCacheBehavior]) {
      const origin = this.config.Origins.find((o: any) => o.Id === b.TargetOriginId);
      const urlId = findGetAtt(origin.DomainName, 'FunctionUrl');
      if (urlId) out[b.PathPattern ?? '*'] = this.resources[urlId].Properties.TargetFunctionArn['Fn::GetAtt'][0];
    }
    return out;
  }

  /** The files a BucketDeployment into `bucketId` uploads: S3 key to local file. */
  public uploadedFiles(bucketId: string): Map<string, string> {
    const out = new Map<string, string>();
    for (const [id, o] of this.objects) if (id.startsWith(`${bucketId}/`)) out.set(id.slice(bucketId.length + 1), o.file);
    return out;
  }

  private loadBucketDeployments() {
    for (const r of Object.values(this.resources) as any[]) {
      if (r.Type !== 'Custom::CDKBucketDeployment') continue;
      const bucketId = r.Properties.DestinationBucketName.Ref;
      const prefix = r.Properties.DestinationBucketKeyPrefix ?? '';
      const cacheControl = r.Properties.SystemMetadata?.['cache-control'];
      for (const key of r.Properties.SourceObjectKeys ?? []) {
        if (typeof key !== 'string') continue;
        const dir = join(this.assemblyDir, `asset.${key.replace(/\.zip$/, '')}`);
        if (!existsSync(dir) || !statSync(dir).isDirectory()) continue;
        for (const file of walk(dir)) {
          this.objects.set(`${bucketId}/${[prefix, relative(dir, file).split('\\').join('/')].filter(Boolean).join('/')}`, { file, cacheControl });
        }
      }
    }
  }
}

function response(status: number, headers: Record<string, string>, body: Buffer, pattern: string, origin: HarnessResponse['route']['origin']): HarnessResponse {
  return { status, headers, body, route: { pattern, origin }, text: () => body.toString('utf8'), json: () => JSON.parse(body.toString('utf8')) };
}

function lower(headers: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), String(v)]));
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]);
}

/** The logical id of the first `Fn::GetAtt: [id, attribute]` inside `value`. */
function findGetAtt(value: any, attribute: string): string | undefined {
  if (!value || typeof value !== 'object') return undefined;
  if (Array.isArray(value['Fn::GetAtt']) && value['Fn::GetAtt'][1] === attribute) return value['Fn::GetAtt'][0];
  for (const v of Object.values(value)) {
    const found = findGetAtt(v, attribute);
    if (found) return found;
  }
  return undefined;
}

/** A CloudFront Function's code; references (the KeyValueStore id) become a placeholder. */
function resolveJoin(value: any): string {
  if (typeof value === 'string') return value;
  if (value['Fn::Join']) return value['Fn::Join'][1].map((p: any) => typeof p === 'string' ? p : 'kvs-id').join(value['Fn::Join'][0]);
  throw new Error(`harness: cannot read function code ${JSON.stringify(value).slice(0, 200)}`);
}
