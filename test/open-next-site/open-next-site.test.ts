import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { AwsSolutionsChecks } from 'cdk-nag';
import { fixtureOpenNextPath } from './fixture';
import { OpenNextSite, OpenNextSiteProps } from '../../src';

/**
 * A copy of a build folder whose files are hard links to the fixture's (`cp -al`): a 60 MB
 * build in milliseconds. Edit its files only through replaceFile, never in place.
 */
function linkedCopy(from: string, to: string): string {
  execFileSync('cp', ['-al', from, to]);
  return to;
}

/** Writes a new file in place of a linked one, leaving the fixture's file as it was. */
function replaceFile(file: string, content: string): void {
  rmSync(file);
  writeFileSync(file, content);
}

let openNextPath: string;
let buildId: string;
beforeAll(() => {
  openNextPath = fixtureOpenNextPath();
  buildId = readFileSync(join(openNextPath, 'assets', 'BUILD_ID'), 'utf8').trim();
});

function synth(props: Partial<OpenNextSiteProps> = {}, configure?: (site: OpenNextSite, stack: Stack) => void) {
  const app = new App();
  const stack = new Stack(app, 'Site', { env: { account: '111111111111', region: 'eu-west-1' } });
  const site = new OpenNextSite(stack, 'Web', { openNextPath, ...props });
  configure?.(site, stack);
  return { app, stack, site, template: Template.fromStack(stack) };
}

function distributionConfig(template: Template) {
  const [dist] = Object.values(template.findResources('AWS::CloudFront::Distribution')) as any[];
  return dist.Properties.DistributionConfig;
}

describe('OpenNextSite from the fixture build', () => {
  let t: ReturnType<typeof synth>;
  beforeAll(() => {
    t = synth({}, (site) => site.addBehavior('/backend/*', new origins.HttpOrigin('api.example.com', {
      customHeaders: { 'x-origin-verify': 'not-a-real-secret-token' },
    }), { cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED }));
  });

  test('behaviours: image, data, one per public item, extra ones, then the server as default', () => {
    const config = distributionConfig(t.template);
    expect(config.CacheBehaviors.map((b: any) => b.PathPattern)).toEqual([
      '/_next/image*', '/_next/data/*', '/_next/static/*', '/favicon.ico', '/images/*', '/robots.txt', '/backend/*',
    ]);
    expect(t.site.behaviors).toEqual([
      '/_next/image*', '/_next/data/*', '/_next/static/*', '/favicon.ico', '/images/*', '/robots.txt', '/backend/*', '/*',
    ]);
    const originOf = (b: any) => config.Origins.find((o: any) => o.Id === b.TargetOriginId);
    // Default behaviour -> server Function URL (no OAC: it checks the origin-verify header); static -> S3 with OAC.
    const server = originOf(config.DefaultCacheBehavior);
    expect(server.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    expect(server.OriginAccessControlId).toBeUndefined();
    for (const b of config.CacheBehaviors.slice(2, 6)) {
      const o = originOf(b);
      expect(o.S3OriginConfig).toBeDefined();
      expect(o.OriginPath).toBe('/_assets');
      expect(o.OriginAccessControlId).toBeDefined();
      expect(b.AllowedMethods).toEqual(['GET', 'HEAD', 'OPTIONS']);
    }
    expect(originOf(config.CacheBehaviors[0]).OriginAccessControlId).toBeDefined();
    expect(originOf(config.CacheBehaviors[6]).DomainName).toBe('api.example.com');
    for (const b of [config.DefaultCacheBehavior, ...config.CacheBehaviors]) {
      expect(b.ViewerProtocolPolicy).toBe('redirect-to-https');
      expect(b.Compress).toBe(true);
    }
  });

  test('HTTPS, HTTP/2 and 3, IPv6, access logging, security headers', () => {
    const config = distributionConfig(t.template);
    expect(config.HttpVersion).toBe('http2and3');
    expect(config.IPV6Enabled).toBe(true);
    expect(config.Logging.Prefix).toBe('cloudfront/');
    expect(config.DefaultCacheBehavior.ResponseHeadersPolicyId).toBeDefined();
    t.template.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true }),
          ContentTypeOptions: { Override: true },
          FrameOptions: { FrameOption: 'DENY', Override: true },
        }),
      }),
    });
  });

  test('cache policies: server keys on query and Next.js headers; image on query and Accept; static is managed', () => {
    const policies = t.template.findResources('AWS::CloudFront::CachePolicy');
    const byComment = (text: string) => (Object.values(policies) as any[])
      .find((p) => p.Properties.CachePolicyConfig.Comment.includes(text)).Properties.CachePolicyConfig;
    const server = byComment('Next.js server');
    expect(server.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStringBehavior).toBe('all');
    expect(server.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig.Headers).toEqual(expect.arrayContaining(['rsc', 'next-router-state-tree', 'next-router-prefetch', 'next-url', 'accept']));
    expect(server.ParametersInCacheKeyAndForwardedToOrigin.CookiesConfig.CookieBehavior).toBe('none');
    expect(server.DefaultTTL).toBe(0);
    const image = byComment('image optimisation');
    expect(image.ParametersInCacheKeyAndForwardedToOrigin.QueryStringsConfig.QueryStringBehavior).toBe('all');
    expect(image.ParametersInCacheKeyAndForwardedToOrigin.HeadersConfig).toEqual({ HeaderBehavior: 'whitelist', Headers: ['accept'] });
    expect(Object.keys(policies)).toHaveLength(2);
    const config = distributionConfig(t.template);
    const managedOptimized = '658327ea-f89d-4fab-a63d-7e88639e58f6';
    expect(config.CacheBehaviors[2].CachePolicyId).toBe(managedOptimized);
    // The server and image behaviours forward everything but Host, and add x-forwarded-host.
    const allViewerExceptHost = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
    for (const b of [config.DefaultCacheBehavior, config.CacheBehaviors[0], config.CacheBehaviors[1]]) {
      expect(b.OriginRequestPolicyId).toBe(allViewerExceptHost);
      expect(b.FunctionAssociations).toEqual([expect.objectContaining({ EventType: 'viewer-request' })]);
      expect(b.AllowedMethods).toContain('POST');
    }
  });

  test('server Function URL without IAM auth, guarded by the rotated origin-verify value; image URL with IAM and OAC', () => {
    const urls = Object.values(t.template.findResources('AWS::Lambda::Url')).map((u: any) => u.Properties);
    const fnId = (u: any) => u.TargetFunctionArn['Fn::GetAtt'][0];
    const serverId = t.stack.getLogicalId(t.site.serverFunction.node.defaultChild as any);
    const imageId = t.stack.getLogicalId(t.site.imageFunction.node.defaultChild as any);
    expect(urls.find((u) => fnId(u) === serverId).AuthType).toBe('NONE');
    expect(urls.find((u) => fnId(u) === imageId).AuthType).toBe('AWS_IAM');
    // Image function and S3 only.
    t.template.resourceCountIs('AWS::CloudFront::OriginAccessControl', 2);
    t.template.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 'lambda', SigningBehavior: 'always' }),
    });
    const perms = Object.values(t.template.findResources('AWS::Lambda::Permission')).map((p: any) => p.Properties);
    const cloudFrontPerms = perms.filter((p: any) => p.Principal === 'cloudfront.amazonaws.com');
    expect(cloudFrontPerms.map((p) => p.Action).sort()).toEqual(['lambda:InvokeFunction', 'lambda:InvokeFunctionUrl']);
    for (const p of cloudFrontPerms) {
      expect(JSON.stringify(p.SourceArn)).toContain('distribution/');
      expect(p.FunctionName['Fn::GetAtt'][0].startsWith(imageId.replace(/[0-9A-F]{8}$/, ''))).toBe(true);
    }
    const publicPerms = perms.filter((p: any) => p.Principal === '*');
    expect(publicPerms.map((p) => [p.Action, p.FunctionName['Fn::GetAtt'][0]]).sort()).toEqual([
      ['lambda:InvokeFunction', serverId], ['lambda:InvokeFunctionUrl', serverId],
    ]);
    // The server runs the origin-verify handler, which reads the secret that the rotation
    // writes into the KeyValueStore that the viewer-request function reads.
    const server = t.template.toJSON().Resources[serverId].Properties;
    expect(server.Handler).toBe('shtetl-origin-verify.handler');
    expect(server.Environment.Variables).toMatchObject({ ORIGIN_VERIFY_HANDLER: 'index.handler', ORIGIN_VERIFY_HEADER: 'x-origin-verify', ORIGIN_VERIFY_CACHE_SECONDS: '300' });
    const secretId = t.stack.getLogicalId(t.site.originVerifySecret.node.defaultChild as any);
    expect(server.Environment.Variables.ORIGIN_VERIFY_SECRET_ID).toEqual({ Ref: secretId });
    t.template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false },
    });
    t.template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
      SecretId: { Ref: secretId }, RotateImmediatelyOnUpdate: true, RotationRules: { ScheduleExpression: 'rate(30 days)' },
    });
    const [fn] = Object.values(t.template.findResources('AWS::CloudFront::Function')) as any[];
    expect(fn.Properties.FunctionConfig.KeyValueStoreAssociations).toHaveLength(1);
    expect(JSON.stringify(fn.Properties.FunctionCode)).toContain("delete request.headers['x-origin-verify']");
    const rotation = (Object.values(t.template.findResources('AWS::Lambda::Function')) as any[])
      .find((f) => String(f.Properties.Description).startsWith('Rotates the origin-verify value'));
    expect(rotation.Properties.Environment.Variables).toMatchObject({ ACCEPT_DELAY_SECONDS: '30', KVS_ENTRY: 'origin-verify' });
  });

  test('functions: arm64, Node.js 24, OpenNext environment, no secret values', () => {
    const fns = t.template.findResources('AWS::Lambda::Function');
    const site = (Object.values(fns) as any[]).filter((f) => f.Properties.Architectures);
    for (const f of site) {
      expect(f.Properties.Architectures).toEqual(['arm64']);
    }
    const server = (Object.values(fns) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js server'));
    expect(server.Properties.Runtime).toBe('nodejs24.x');
    expect(Object.keys(server.Properties.Environment.Variables).sort()).toEqual([
      'CACHE_BUCKET_KEY_PREFIX', 'CACHE_BUCKET_NAME', 'CACHE_BUCKET_REGION', 'CACHE_DYNAMO_TABLE', 'NODE_OPTIONS',
      'ORIGIN_VERIFY_CACHE_SECONDS', 'ORIGIN_VERIFY_HANDLER', 'ORIGIN_VERIFY_HEADER', 'ORIGIN_VERIFY_SECRET_ID',
      'REVALIDATION_QUEUE_REGION', 'REVALIDATION_QUEUE_URL',
    ]);
    expect(server.Properties.Environment.Variables.CACHE_BUCKET_KEY_PREFIX).toBe('_cache');
    const image = (Object.values(fns) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js image'));
    expect(image.Properties.Environment.Variables.BUCKET_KEY_PREFIX).toBe('_assets');
    expect(image.Properties.MemorySize).toBe(1536);
    const descriptions = site.map((f) => String(f.Properties.Description));
    expect(descriptions.some((d) => d.startsWith('ISR revalidation'))).toBe(true);
    expect(descriptions.some((d) => d.startsWith('Seeds the tag cache'))).toBe(true);
    expect(descriptions.some((d) => d.startsWith('Keeps'))).toBe(false); // warmer is opt-in
  });

  test('ISR: FIFO revalidation queue with DLQ feeding the revalidation function; tag cache table with its index', () => {
    t.template.hasResourceProperties('AWS::SQS::Queue', { FifoQueue: true, ReceiveMessageWaitTimeSeconds: 20, RedrivePolicy: Match.anyValue() });
    t.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 5, EventSourceArn: Match.anyValue(), FunctionResponseTypes: ['ReportBatchItemFailures'] });
    t.template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [{ AttributeName: 'tag', KeyType: 'HASH' }, { AttributeName: 'path', KeyType: 'RANGE' }],
      GlobalSecondaryIndexes: [Match.objectLike({
        IndexName: 'revalidate',
        KeySchema: [{ AttributeName: 'path', KeyType: 'HASH' }, { AttributeName: 'revalidatedAt', KeyType: 'RANGE' }],
      })],
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  test('assets: hashed files immutable, public files revalidated, nothing pruned; manifest and site deployment', () => {
    const deployments = Object.values(t.template.findResources('Custom::CDKBucketDeployment')).map((d: any) => d.Properties);
    const byPrefix = (prefix: string) => deployments.find((d) => d.DestinationBucketKeyPrefix === prefix);
    expect(byPrefix('_assets/_next').SystemMetadata['cache-control']).toBe('public,max-age=31536000,immutable');
    expect(byPrefix('_assets').SystemMetadata['cache-control']).toBe('public,max-age=0,s-maxage=31536000,must-revalidate');
    expect(byPrefix('_cache')).toBeDefined();
    expect(byPrefix('_deployments')).toBeDefined();
    for (const d of deployments) expect(d.Prune).toBe(false);
    t.template.hasResourceProperties('Custom::OpenNextSiteDeployment', {
      BuildId: buildId,
      AssetsPrefix: '_assets',
      CachePrefix: '_cache',
      DeploymentsPrefix: '_deployments',
      InvalidationPaths: ['/*'],
      RetentionDays: '30',
      SeedFunction: Match.anyValue(),
    });
    // It runs after everything is uploaded and live.
    const [sd] = Object.values(t.template.findResources('Custom::OpenNextSiteDeployment')) as any[];
    const deploymentIds = Object.keys(t.template.findResources('Custom::CDKBucketDeployment'));
    expect(sd.DependsOn).toEqual(expect.arrayContaining(deploymentIds));
  });

  test('buckets block public access, enforce TLS and log access; the policy admits CloudFront only', () => {
    const buckets = Object.values(t.template.findResources('AWS::S3::Bucket')) as any[];
    expect(buckets).toHaveLength(3);
    for (const b of buckets) {
      expect(b.Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true,
      });
      expect(b.DeletionPolicy).toBe('Retain');
    }
    t.template.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject' })]) },
    });
  });

  test('cdk-nag AwsSolutions: no unsuppressed errors or warnings', () => {
    const { app, stack } = synth({}, (site) => site.addBehavior('/backend/*', new origins.HttpOrigin('api.example.com')));
    Aspects.of(stack).add(new AwsSolutionsChecks());
    app.synth();
    const findings = [
      ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ];
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`)).toEqual([]);
  });
});

describe('options', () => {
  test('custom domain with certificate: aliases and TLS 1.2 (2021)', () => {
    const { template, site } = synth({}, () => undefined);
    expect(site.url).toMatch(/^https:\/\//);
    const t2 = (() => {
      const app = new App();
      const stack = new Stack(app, 'S', { env: { account: '111111111111', region: 'us-east-1' } });
      const certificate = acm.Certificate.fromCertificateArn(stack, 'C', 'arn:aws:acm:us-east-1:111111111111:certificate/abc');
      const s = new OpenNextSite(stack, 'Web', { openNextPath, domainNames: ['www.example.com'], certificate });
      expect(s.url).toBe('https://www.example.com');
      return Template.fromStack(stack);
    })();
    const config = distributionConfig(t2);
    expect(config.Aliases).toEqual(['www.example.com']);
    expect(config.ViewerCertificate).toEqual(expect.objectContaining({ MinimumProtocolVersion: 'TLSv1.2_2021', SslSupportMethod: 'sni-only' }));
    expect(distributionConfig(template).Aliases).toBeUndefined();
  });

  test('secrets: only SSM parameter names reach the function, with GetParameters on exactly those', () => {
    const { template } = synth({ secretParameters: { CLERK_SECRET_KEY: '/zmanim/prod/clerk-secret-key' }, environment: { NEXT_PUBLIC_SITE: 'x' } });
    const server = (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js server'));
    const env = server.Properties.Environment.Variables;
    expect(env.SSM_ENV_PARAMETERS).toBe('CLERK_SECRET_KEY=/zmanim/prod/clerk-secret-key');
    expect(env.NODE_OPTIONS).toContain('--import /opt/ssm-env.mjs');
    expect(env.CLERK_SECRET_KEY).toBeUndefined();
    expect(server.Properties.Layers).toHaveLength(1);
    template.hasResourceProperties('AWS::IAM::Policy', {
      PolicyDocument: {
        Statement: Match.arrayWith([Match.objectLike({
          Action: 'ssm:GetParameters',
          Resource: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:eu-west-1:111111111111:parameter/zmanim/prod/clerk-secret-key']] },
        })]),
      },
    });
  });

  test('warmer on a schedule invokes the server function', () => {
    const { template } = synth({ warmerConcurrency: 2, warmerInterval: Duration.minutes(10), removalPolicy: RemovalPolicy.DESTROY });
    template.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(10 minutes)' });
    const warmer = (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Keeps 2'));
    expect(warmer.Properties.Architectures).toEqual(['arm64']);
    expect(JSON.stringify(warmer.Properties.Environment.Variables.WARM_PARAMS)).toContain('concurrency');
  });

  test('policies are shared by every site in a stack', () => {
    const { template } = synth({}, (_site, stack) => new OpenNextSite(stack, 'Second', { openNextPath }));
    template.resourceCountIs('AWS::CloudFront::Distribution', 2);
    template.resourceCountIs('AWS::CloudFront::CachePolicy', 2);
    template.resourceCountIs('AWS::CloudFront::ResponseHeadersPolicy', 1);
    // One viewer-request function per site: each reads its own KeyValueStore.
    template.resourceCountIs('AWS::CloudFront::Function', 2);
  });
});

describe('other build shapes', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'open-next-shape-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  /** A linked copy of the fixture build with an edited manifest. */
  const variant = (edit: (manifest: any) => any) => {
    const copy = linkedCopy(openNextPath, join(dir, '.open-next'));
    const file = join(copy, 'open-next.output.json');
    replaceFile(file, JSON.stringify(edit(JSON.parse(readFileSync(file, 'utf8')))));
    return copy;
  };
  const functionsOf = (template: Template) => (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).map((f) => String(f.Properties.Description));

  test('a streaming server (aws-lambda-streaming wrapper) gets a RESPONSE_STREAM Function URL', () => {
    const path = variant((m) => ({ ...m, origins: { ...m.origins, default: { ...m.origins.default, streaming: true, wrapper: 'aws-lambda-streaming' } } }));
    const { template } = synth({ openNextPath: path });
    const modes = Object.values(template.findResources('AWS::Lambda::Url')).map((u: any) => u.Properties.InvokeMode);
    // The image function never streams (its URL keeps the default, BUFFERED).
    expect(modes).toEqual(expect.arrayContaining(['RESPONSE_STREAM', undefined]));
    expect(modes).toHaveLength(2);
  });

  test('no initialization function (no prerendered page has tags) but the DynamoDB tag cache on: the table exists, nothing to seed', () => {
    const path = variant((m) => ({ ...m, additionalProps: { ...m.additionalProps, initializationFunction: undefined } }));
    const { template, site } = synth({ openNextPath: path });
    expect(site.tagCacheTable).toBeDefined();
    const server = (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js server'));
    expect(server.Properties.Environment.Variables.CACHE_DYNAMO_TABLE).toEqual({ Ref: expect.stringMatching(/TagCache/) });
    expect(functionsOf(template).some((d) => d.startsWith('Seeds the tag cache'))).toBe(false);
    template.hasResourceProperties('Custom::OpenNextSiteDeployment', { SeedFunction: '' });
  });

  test('a tag cache that is not DynamoDB (e.g. an override) gets no table', () => {
    const path = variant((m) => ({
      ...m,
      origins: { ...m.origins, default: { ...m.origins.default, tagCache: 'dummy' } },
      additionalProps: { ...m.additionalProps, initializationFunction: undefined },
    }));
    const { site } = synth({ openNextPath: path });
    expect(site.tagCacheTable).toBeUndefined();
  });

  test('split server functions: each its own function, public URL and origin, behind the behaviours OpenNext lists', () => {
    const path = variant((m) => ({
      ...m,
      origins: {
        ...m.origins,
        api: { ...m.origins.default, bundle: '.open-next/server-functions/api' },
        pages: { ...m.origins.default, bundle: '.open-next/server-functions/pages', streaming: true },
      },
      // OpenNext lists split patterns after the image behaviour and before _next/data/*.
      behaviors: [m.behaviors[0], { pattern: 'api/*', origin: 'api' }, { pattern: 'blog/*', origin: 'pages' }, { pattern: 'about', origin: 'pages' }, ...m.behaviors.slice(1)],
    }));
    linkedCopy(join(path, 'server-functions', 'default'), join(path, 'server-functions', 'api'));
    linkedCopy(join(path, 'server-functions', 'default'), join(path, 'server-functions', 'pages'));
    const { template, site, stack } = synth({ openNextPath: path, warmerConcurrency: 1 });
    expect(Object.keys(site.splitServerFunctions)).toEqual(['api', 'pages']);
    expect(site.behaviors).toEqual([
      '/_next/image*', '/api/*', '/blog/*', '/about', '/_next/data/*', '/_next/static/*', '/favicon.ico', '/images/*', '/robots.txt', '/*',
    ]);
    const config = distributionConfig(template);
    const originOf = (pattern: string) => {
      const b = config.CacheBehaviors.find((x: any) => x.PathPattern === pattern);
      return config.Origins.find((o: any) => o.Id === b.TargetOriginId);
    };
    const urlOf = (fn: any) => {
      const [urlId] = Object.entries(template.findResources('AWS::Lambda::Url'))
        .find(([, u]: any) => u.Properties.TargetFunctionArn['Fn::GetAtt'][0] === stack.getLogicalId(fn.node.defaultChild))!;
      return urlId;
    };
    expect(JSON.stringify(originOf('/api/*').DomainName)).toContain(urlOf(site.splitServerFunctions.api));
    expect(JSON.stringify(originOf('/blog/*').DomainName)).toContain(urlOf(site.splitServerFunctions.pages));
    expect(originOf('/about').Id).toBe(originOf('/blog/*').Id);
    expect(JSON.stringify(originOf('/_next/data/*').DomainName)).toContain(urlOf(site.serverFunction));
    for (const p of ['/api/*', '/blog/*', '/about']) {
      const b = config.CacheBehaviors.find((x: any) => x.PathPattern === p);
      expect(b.AllowedMethods).toContain('POST');
      expect(b.FunctionAssociations).toHaveLength(1);
      expect(originOf(p).OriginAccessControlId).toBeUndefined();
    }
    const urls = Object.values(template.findResources('AWS::Lambda::Url')).map((u: any) => u.Properties);
    expect(urls.map((u) => `${u.AuthType} ${u.InvokeMode ?? 'BUFFERED'}`).sort()).toEqual(['AWS_IAM BUFFERED', 'NONE BUFFERED', 'NONE BUFFERED', 'NONE RESPONSE_STREAM']);
    const fnProps = (f: any) => template.toJSON().Resources[stack.getLogicalId(f.node.defaultChild)].Properties;
    for (const f of Object.values(site.splitServerFunctions)) {
      expect(fnProps(f).Handler).toBe('shtetl-origin-verify.handler');
      expect(Object.keys(fnProps(f).Environment.Variables)).toEqual(expect.arrayContaining(['ORIGIN_VERIFY_SECRET_ID', 'CACHE_BUCKET_NAME', 'CACHE_DYNAMO_TABLE', 'REVALIDATION_QUEUE_URL']));
    }
    // The warmer keeps every server function warm.
    const warmer = (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Keeps'));
    expect(JSON.stringify(warmer.Properties.Environment.Variables.WARM_PARAMS).match(/concurrency/g)).toHaveLength(3);
  });

  test('split functions past the behaviour quota: a clear error naming their patterns', () => {
    const path = variant((m) => ({
      ...m,
      origins: { ...m.origins, api: { ...m.origins.default } },
      behaviors: [m.behaviors[0], ...Array.from({ length: 20 }, (_, i) => ({ pattern: `api${i}/*`, origin: 'api' })), ...m.behaviors.slice(1)],
    }));
    expect(() => synth({ openNextPath: path })).toThrow(/the site itself needs 26 CloudFront cache behaviours, more than maxBehaviors \(25.*Split server functions: 20 pattern\(s\) \(\/api0\/\*, .*give split functions fewer patterns/);
  });

  test('3.x manifests (no versionedSubDir) and builds without tag cache or revalidation', () => {
    const path = variant((m) => ({
      ...m,
      origins: { ...m.origins, s3: { ...m.origins.s3, copy: m.origins.s3.copy.map(({ versionedSubDir, ...c }: any) => c) } },
      additionalProps: { disableTagCache: true, disableIncrementalCache: true },
    }));
    const { template, site } = synth({ openNextPath: path });
    expect(site.behaviors).toContain('/_next/static/*');
    expect(site.tagCacheTable).toBeUndefined();
    expect(site.revalidationQueue).toBeUndefined();
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
    template.resourceCountIs('AWS::SQS::Queue', 0);
    expect(functionsOf(template).some((d) => d.startsWith('ISR revalidation'))).toBe(false);
    const server = (Object.values(template.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js server'));
    expect(server.Properties.Environment.Variables.REVALIDATION_QUEUE_URL).toBeUndefined();
    expect(server.Properties.Environment.Variables.CACHE_DYNAMO_TABLE).toBeUndefined();
  });
});

describe('bad input', () => {
  let dir: string;
  beforeEach(() => { dir = mkdtempSync(join(tmpdir(), 'open-next-bad-')); });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const make = (path: string) => () => new OpenNextSite(new Stack(new App(), 'S'), 'Web', { openNextPath: path });

  test('missing folder', () => {
    expect(make(join(dir, 'nope'))).toThrow(/openNextPath ".*nope" is not a folder.*open-next build/);
  });
  test('folder without open-next.output.json', () => {
    expect(make(dir)).toThrow(/open-next\.output\.json is missing.*3\.x or 4\.x/);
  });
  test('a part named by the output file is missing', () => {
    const copy = linkedCopy(openNextPath, join(dir, '.open-next'));
    rmSync(join(copy, 'image-optimization-function'), { recursive: true });
    expect(make(copy)).toThrow(/image optimization function \(origins.imageOptimizer\) folder .*image-optimization-function.* is missing/);
  });
  test('too many behaviours: clear error naming the quota and the fix', () => {
    expect(() => synth({ maxBehaviors: 5 })).toThrow(/needs 6 CloudFront cache behaviours, more than maxBehaviors \(5.*Move top-level files of public\//);
    expect(() => synth({ maxBehaviors: 7 }, (site) => {
      site.addBehavior('/a/*', new origins.HttpOrigin('a.example.com'));
      site.addBehavior('/b/*', new origins.HttpOrigin('b.example.com'));
    })).toThrow(/adding "\/b\/\*" needs 8 CloudFront cache behaviours/);
  });
  test('duplicate or default pattern', () => {
    expect(() => synth({}, (site) => site.addBehavior('/images/*', new origins.HttpOrigin('a.example.com')))).toThrow(/"\/images\/\*" exists already/);
    expect(() => synth({}, (site) => site.addBehavior('/*', new origins.HttpOrigin('a.example.com')))).toThrow(/default behaviour/);
  });
  test('domain without certificate, bad secret names', () => {
    expect(() => synth({ domainNames: ['x.example.com'] })).toThrow(/need a certificate from us-east-1/);
    expect(() => synth({ secretParameters: { 'BAD-NAME': '/a/b' } })).toThrow(/not an environment variable name/);
    expect(() => synth({ secretParameters: { KEY: 'relative' } })).toThrow(/not an absolute SSM parameter name/);
  });
  test('an image function with sharp for another CPU than the Lambda\'s arm64 (OpenNext 3.x with npm 10+)', () => {
    const copy = linkedCopy(openNextPath, join(dir, '.open-next'));
    const img = join(copy, 'image-optimization-function', 'node_modules', '@img');
    renameSync(join(img, 'sharp-linux-arm64'), join(img, 'sharp-linux-x64'));
    expect(make(copy)).toThrow(/sharp's native code for linux-x64, but runs on linux-arm64.*additionalArgs: '--cpu=arm64'/);
    renameSync(join(img, 'sharp-linux-x64'), join(img, 'sharp-linux-arm64'));
    expect(make(copy)).not.toThrow();
  });
  test('unsupported builds: edge functions', () => {
    const copy = linkedCopy(openNextPath, join(dir, '.open-next'));
    const manifest = JSON.parse(readFileSync(join(copy, 'open-next.output.json'), 'utf8'));
    replaceFile(join(copy, 'open-next.output.json'), JSON.stringify({ ...manifest, edgeFunctions: { middleware: {} } }));
    expect(make(copy)).toThrow(/edge functions \(middleware\).*not supported/);
  });
});
