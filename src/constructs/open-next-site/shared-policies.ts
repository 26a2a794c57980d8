import { Duration, Stack } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import { Construct } from 'constructs';

/** Headers Next.js varies its responses on (App Router RSC requests, prefetches, ISR revalidation). */
const NEXT_CACHE_KEY_HEADERS = [
  'accept', 'rsc', 'next-router-prefetch', 'next-router-state-tree', 'next-router-segment-prefetch', 'next-url', 'x-prerender-revalidate',
];

export interface SharedPolicies {
  readonly server: cloudfront.ICachePolicy;
  readonly image: cloudfront.ICachePolicy;
  readonly securityHeaders: cloudfront.IResponseHeadersPolicy;
}

/**
 * Cache policies and the security headers policy, once per stack: the account has quotas on
 * each (20 cache policies, 20 response headers policies).
 */
export function sharedPolicies(scope: Construct): SharedPolicies {
  const stack = Stack.of(scope);
  const id = 'ShtetlOpenNextSitePolicies';
  const existing = stack.node.tryFindChild(id) as Construct | undefined;
  const holder = existing ?? new Construct(stack, id);
  if (existing) {
    return {
      server: holder.node.findChild('ServerCachePolicy') as cloudfront.ICachePolicy,
      image: holder.node.findChild('ImageCachePolicy') as cloudfront.ICachePolicy,
      securityHeaders: holder.node.findChild('SecurityHeaders') as cloudfront.IResponseHeadersPolicy,
    };
  }
  const server = new cloudfront.CachePolicy(holder, 'ServerCachePolicy', {
    comment: 'Next.js server (OpenNext): query string and the RSC/router headers in the key; TTL from the response',
    queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
    headerBehavior: cloudfront.CacheHeaderBehavior.allowList(...NEXT_CACHE_KEY_HEADERS),
    cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    defaultTtl: Duration.seconds(0),
    minTtl: Duration.seconds(0),
    maxTtl: Duration.days(365),
    enableAcceptEncodingGzip: true,
    enableAcceptEncodingBrotli: true,
  });
  const image = new cloudfront.CachePolicy(holder, 'ImageCachePolicy', {
    comment: 'Next.js image optimisation (OpenNext): url, w and q query parameters and Accept (AVIF/WebP) in the key',
    queryStringBehavior: cloudfront.CacheQueryStringBehavior.all(),
    headerBehavior: cloudfront.CacheHeaderBehavior.allowList('accept'),
    cookieBehavior: cloudfront.CacheCookieBehavior.none(),
    defaultTtl: Duration.days(1),
    minTtl: Duration.seconds(0),
    maxTtl: Duration.days(365),
  });
  const securityHeaders = new cloudfront.ResponseHeadersPolicy(holder, 'SecurityHeaders', {
    comment: 'Security headers of OpenNext sites',
    securityHeadersBehavior: {
      strictTransportSecurity: { accessControlMaxAge: Duration.days(730), includeSubdomains: true, preload: true, override: true },
      contentTypeOptions: { override: true },
      frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
      referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN, override: true },
      xssProtection: { protection: true, modeBlock: true, override: true },
    },
    removeHeaders: ['server', 'x-powered-by'],
  });
  return { server, image, securityHeaders };
}
