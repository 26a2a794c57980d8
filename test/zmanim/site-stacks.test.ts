import { App, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import { synthZmanimApp } from './app-fixture';
import { OriginVerifiedHttpApi } from '../../src';
import { DEFAULT_CONFIG, resolveConfig } from '../../src/zmanim/config';
import { NextjsStack } from '../../src/zmanim/stacks/nextjs-stack';
import { fixtureOpenNextPath } from '../open-next-site/fixture';
import { appContext } from '../support/app-context';

describe('the zmanim app\'s Next.js and DNS Records stacks', () => {
  let synthesized: ReturnType<typeof synthZmanimApp>;
  beforeAll(() => {
    fixtureOpenNextPath();
    synthesized = synthZmanimApp();
  });

  test('the default config deploys the fixture build at the domain with the us-east-1 certificate', () => {
    const { nextjs, certificate } = synthesized.stacks;
    expect(nextjs.region).toBe('eu-west-1');
    expect(certificate.region).toBe('us-east-1');
    const t = Template.fromStack(nextjs);
    const [dist] = Object.values(t.findResources('AWS::CloudFront::Distribution')) as any[];
    expect(dist.Properties.DistributionConfig.Aliases).toEqual(['zmanim.shtetl.io']);
    // The certificate comes from the us-east-1 stack through a cross-region reference.
    expect(JSON.stringify(dist.Properties.DistributionConfig.ViewerCertificate.AcmCertificateArn)).toContain('ExportsReader');
    expect(dist.Properties.DistributionConfig.ViewerCertificate.MinimumProtocolVersion).toBe('TLSv1.2_2021');
  });

  test('the Clerk secret key is read from SSM at runtime: only its name is in the template', () => {
    const t = Template.fromStack(synthesized.stacks.nextjs);
    const server = (Object.values(t.findResources('AWS::Lambda::Function')) as any[]).find((f) => String(f.Properties.Description).startsWith('Next.js server'));
    expect(server.Properties.Environment.Variables.SSM_ENV_PARAMETERS).toBe('CLERK_SECRET_KEY=/zmanim/prod/clerk-secret-key');
    expect(server.Properties.Environment.Variables.CLERK_SECRET_KEY).toBeUndefined();
    // The warmer of the default config keeps one instance warm.
    t.hasResourceProperties('AWS::Events::Rule', { ScheduleExpression: 'rate(5 minutes)' });
  });

  test('DNS Records: A and AAAA aliases of the domain to the distribution in the imported zone', () => {
    const t = Template.fromStack(synthesized.stacks.dnsRecords);
    for (const type of ['A', 'AAAA']) {
      t.hasResourceProperties('AWS::Route53::RecordSet', {
        Name: 'zmanim.shtetl.io.',
        Type: type,
        HostedZoneId: DEFAULT_CONFIG.hostedZone.zoneId,
        AliasTarget: { DNSName: { 'Fn::ImportValue': Match.stringLikeRegexp('ZmanimProdNextjs:.*Distribution.*DomainName') }, HostedZoneId: Match.anyValue() },
      });
    }
  });

  test('cdk-nag: no unsuppressed findings in either stack', () => {
    for (const stack of [synthesized.stacks.nextjs, synthesized.stacks.dnsRecords]) {
      const findings = [
        ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
        ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
      ];
      expect(findings.map((f) => `${f.id}: ${String(f.entry.data).split('\n')[0]}`)).toEqual([]);
    }
  });

  test('/backend/* goes to the API with its origin-verify behaviour, after the site\'s behaviours', () => {
    const app = new App({ context: appContext() });
    const stack = new Stack(app, 'Api', { env: { account: '123456789012', region: 'eu-west-1' } });
    const verify = new cloudfront.Function(stack, 'Verify', { code: cloudfront.FunctionCode.fromInline('function handler(e){return e.request}') });
    // The API's own behaviour (origin, origin-verify function, no caching), as OriginVerifiedHttpApi builds it.
    const api = {
      cloudFrontBehavior: (): cloudfront.BehaviorOptions => ({
        origin: new origins.HttpOrigin('abc.execute-api.eu-west-1.amazonaws.com'),
        cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
        functionAssociations: [{ function: verify, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      }),
    } as unknown as OriginVerifiedHttpApi;
    const certStack = new Stack(app, 'Cert', { env: { account: '123456789012', region: 'us-east-1' }, crossRegionReferences: true });
    const certificate = new acm.Certificate(certStack, 'C', { domainName: 'zmanim.shtetl.io' });
    const nextjs = new NextjsStack(app, 'Next', {
      env: { account: '123456789012', region: 'eu-west-1' },
      crossRegionReferences: true,
      config: DEFAULT_CONFIG,
      openNextPath: fixtureOpenNextPath(),
      certificate,
      api,
    });
    expect(nextjs.site.behaviors.slice(-2)).toEqual(['/backend/*', '/*']);
    const [dist] = Object.values(Template.fromStack(nextjs).findResources('AWS::CloudFront::Distribution')) as any[];
    const backend = dist.Properties.DistributionConfig.CacheBehaviors.find((b: any) => b.PathPattern === '/backend/*');
    expect(backend.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
    expect(backend.FunctionAssociations).toHaveLength(1);
    expect(backend.ViewerProtocolPolicy).toBe('redirect-to-https');
  });

  test('config: the frontend workflow points the site at another build with -c zmanim:site=...', () => {
    const context: Record<string, string> = { 'zmanim:site': '{"openNextPath":"/build/web/.open-next"}' };
    const config = resolveConfig((key) => context[key], {});
    expect(config.site).toEqual({ openNextPath: '/build/web/.open-next', warmerConcurrency: 1 });
    const bad: Record<string, string> = { 'zmanim:site': '{"openNextPath":""}' };
    expect(() => resolveConfig((key) => bad[key], {})).toThrow(/site\.openNextPath.*must name the \.open-next folder/);
  });
});
