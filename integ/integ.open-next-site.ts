/**
 * OpenNextSite in a real account, deploying the full fixture Next.js app
 * (test/fixtures/nextjs-full, built on first use). The assertions check through CloudFront that
 * - the prerendered home page and the dynamic page answer 200 with their content;
 * - a POST with a JSON body reaches a route handler, which never sees the origin-verify header;
 * - a public file is cached by CloudFront (second request: "Hit from cloudfront");
 * - a hashed `_next/static` chunk is served with the immutable Cache-Control;
 * - `/_next/image` returns a WebP for an `Accept: image/webp` request (arm64 sharp works);
 * and that the server function's URL called directly (not through CloudFront, so without the
origin-verify value) answers 403, also for a POST with a body.
 *
 * Run: `npx projen integ:deploy` (credentials for a bootstrapped test account).
 *
 * The committed snapshot leaves out the three ~21 MB asset folders (server and image
 * function bundles, the BucketDeployment's AWS CLI layer): snapshot verification compares
 * templates with asset hashes canonicalized and does not read them, and the fixture's fixed
 * build id keeps the templates identical across fresh builds. After `npx projen
 * integ:update`, delete asset folders over 5 MB from the snapshot before committing.
 */
import { join } from 'node:path';
import { ExpectedResult, IntegTest, Match } from '@aws-cdk/integ-tests-alpha';
import { App, Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { OpenNextSite } from '../src';
import { listFiles } from '../src/constructs/open-next-site/open-next-output';
import { ensureNextFixture, FULL_FIXTURE_SITE_DIR } from '../src/zmanim/prepare-assets';

const openNextPath = ensureNextFixture(join(__dirname, '..', FULL_FIXTURE_SITE_DIR), () => undefined);
const chunk = listFiles(join(openNextPath, 'assets')).find((f) => f.startsWith('_next/static/chunks/') && f.endsWith('.js'))!;

const app = new App();
const stack = new Stack(app, 'OpenNextSiteInteg');
const site = new OpenNextSite(stack, 'Site', {
  openNextPath,
  removalPolicy: RemovalPolicy.DESTROY,
  assetRetention: Duration.days(1),
});

const integ = new IntegTest(app, 'OpenNextSiteTest', { testCases: [stack] });
const wait = { totalTimeout: Duration.minutes(15), interval: Duration.seconds(30) };

integ.assertions.httpApiCall(`${site.url}/`)
  .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('Full fixture home') }))
  .waitForAssertions(wait);

integ.assertions.httpApiCall(`${site.url}/dynamic`)
  .expect(ExpectedResult.objectLike({ status: 200, body: Match.stringLikeRegexp('Dynamic page') }))
  .waitForAssertions(wait);

const first = integ.assertions.httpApiCall(`${site.url}/robots.txt`);
first.expect(ExpectedResult.objectLike({ status: 200 })).waitForAssertions(wait);
const second = integ.assertions.httpApiCall(`${site.url}/robots.txt`);
second.expect(ExpectedResult.objectLike({
  status: 200,
  headers: Match.objectLike({ 'x-cache': ['Hit from cloudfront'], 'cache-control': ['public,max-age=0,s-maxage=31536000,must-revalidate'] }),
}));
first.next(second);

integ.assertions.httpApiCall(`${site.url}/${chunk}`)
  .expect(ExpectedResult.objectLike({ status: 200, headers: Match.objectLike({ 'cache-control': ['public,max-age=31536000,immutable'] }) }))
  .waitForAssertions(wait);

integ.assertions.httpApiCall(`${site.url}/_next/image?url=%2Fimages%2Flogo.png&w=64&q=75`, { headers: { accept: 'image/webp,*/*' } })
  .expect(ExpectedResult.objectLike({ status: 200, headers: Match.objectLike({ 'content-type': ['image/webp'] }) }))
  .waitForAssertions(wait);

// A body reaches the route handler through CloudFront (origin access control would refuse it).
const json = { 'content-type': 'application/json' };
integ.assertions.httpApiCall(`${site.url}/api/echo`, { method: 'POST', body: JSON.stringify({ integ: true }), headers: json })
  // (the assertion provider parses JSON bodies)
  .expect(ExpectedResult.objectLike({ status: 200, body: Match.objectLike({ method: 'POST', originVerifySeen: false, body: { integ: true } }) }))
  .waitForAssertions(wait);

// Straight to the Function URL, without the origin-verify value: refused before Next.js.
integ.assertions.httpApiCall(site.serverFunctionUrl.url)
  .expect(ExpectedResult.objectLike({ status: 403 }));
integ.assertions.httpApiCall(`${site.serverFunctionUrl.url}api/echo`, { method: 'POST', body: '{"direct":true}', headers: json })
  .expect(ExpectedResult.objectLike({ status: 403 }));
