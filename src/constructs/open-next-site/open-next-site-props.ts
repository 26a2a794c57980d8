import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as s3 from 'aws-cdk-lib/aws-s3';
// Only for the {@link}s of the docs (a type import: no cycle at run time).
import type { OpenNextSite } from './open-next-site';

/** CloudFront's default quota of cache behaviours per distribution (besides the default one). */
export const CLOUDFRONT_MAX_BEHAVIORS = 25;

/**
 * Properties of {@link OpenNextSite}.
 */
export interface OpenNextSiteProps {
  /**
   * The `.open-next` folder written by `open-next build` (@opennextjs/aws 3.x or 4.x).
   * The construct reads `open-next.output.json` in it and never builds anything itself.
   *
   * @example 'web/.open-next'
   */
  readonly openNextPath: string;

  /**
   * Custom domain names of the site. Requires `certificate`.
   *
   * @default - the site is served on the distribution's cloudfront.net name only
   */
  readonly domainNames?: string[];

  /**
   * ACM certificate for `domainNames`, in us-east-1 (CloudFront only accepts those; from a
   * stack in another region pass it with `crossRegionReferences: true`).
   *
   * @default - none (required when `domainNames` is set)
   */
  readonly certificate?: acm.ICertificate;

  /**
   * Environment variables of the server function (public values only: they are visible
   * in the function configuration and the template). Secrets go in `secretParameters`.
   *
   * @default - only what OpenNext needs
   */
  readonly environment?: { [name: string]: string };

  /**
   * Secrets the app reads from `process.env` at runtime, as environment variable name to
   * SSM parameter name (a SecureString), e.g. `{ CLERK_SECRET_KEY: '/<service>/<env>/clerk-secret-key' }`.
   * The server function gets only the parameter names and `ssm:GetParameters` on them; a
   * layer loaded before the handler fetches the values at cold start into `process.env`.
   * No value is ever in the template or the function configuration.
   *
   * @default - no secrets
   */
  readonly secretParameters?: { [envName: string]: string };

  /**
   * Memory of the server function, in MiB (CPU grows with it).
   *
   * @default 1024
   */
  readonly serverMemorySize?: number;

  /**
   * Timeout of the server function (CloudFront waits up to 60 s for a first byte by default).
   *
   * @default Duration.seconds(30)
   */
  readonly serverTimeout?: Duration;

  /**
   * Memory of the image optimisation function, in MiB.
   *
   * @default 1536
   */
  readonly imageMemorySize?: number;

  /**
   * Keep this many server function instances warm (invoked every `warmerInterval`).
   * 0 creates no warmer.
   *
   * @default 0
   */
  readonly warmerConcurrency?: number;

  /**
   * How often the warmer runs.
   *
   * @default Duration.minutes(5)
   */
  readonly warmerInterval?: Duration;

  /**
   * How long the static assets and ISR cache of a replaced build stay, so that browsers
   * still running it can load its chunks. Deleted at the first deployment after that.
   *
   * @default Duration.days(30)
   */
  readonly assetRetention?: Duration;

  /**
   * Bucket for CloudFront access logs and S3 server access logs (ACLs enabled, as
   * CloudFront standard logging requires).
   *
   * @default - a new bucket, logs expire after 90 days
   */
  readonly logBucket?: s3.IBucket;

  /**
   * Cache policy of the server function behaviours. Pass one shared policy when several
   * sites live in one account (the account has a quota of 20 custom cache policies).
   *
   * @default - one policy per stack, shared by every OpenNextSite in the stack
   */
  readonly serverCachePolicy?: cloudfront.ICachePolicy;

  /**
   * Cache policy of `/_next/image*` (must include the query string and `Accept`).
   *
   * @default - one policy per stack, shared by every OpenNextSite in the stack
   */
  readonly imageCachePolicy?: cloudfront.ICachePolicy;

  /**
   * Response headers policy of every behaviour.
   *
   * @default - HSTS (2 years, subdomains, preload), nosniff, frame DENY, strict referrer, XSS protection
   */
  readonly responseHeadersPolicy?: cloudfront.IResponseHeadersPolicy;

  /**
   * ARN of a WAFv2 web ACL (scope CLOUDFRONT) in front of the site.
   *
   * @default - no web ACL
   */
  readonly webAclId?: string;

  /**
   * Price class of the distribution.
   *
   * @default PriceClass.PRICE_CLASS_100 (North America and Europe)
   */
  readonly priceClass?: cloudfront.PriceClass;

  /**
   * Most cache behaviours the distribution may have (CloudFront's quota, 25 unless AWS
   * raised it for the account). Exceeding it fails synth instead of the deployment.
   *
   * @default 25
   */
  readonly maxBehaviors?: number;

  /**
   * How often the origin-verify value (the secret CloudFront adds to every request for the
   * server function, which refuses requests without it) is rotated. At least 4 hours.
   *
   * @default Duration.days(30)
   */
  readonly originVerifyRotation?: Duration;

  /**
   * What happens to the buckets and the tag cache table when they leave the stack.
   * Everything in them is rebuilt by the next deployment; `DESTROY` also empties the
   * buckets (for test stacks).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Options of a behaviour added with {@link OpenNextSite.addBehavior}.
 */
export interface OpenNextSiteBehaviorOptions extends cloudfront.AddBehaviorOptions {}
