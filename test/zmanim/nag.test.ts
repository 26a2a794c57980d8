import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { synthZmanimApp } from './app-fixture';
import { findingsOf } from '../support/nag';

/**
 * cdk-nag's AwsSolutions rules run on every stack of the app (as in `cdk synth`); any
 * unsuppressed error or warning fails. Suppressions are narrow and carry their reason.
 */
const { all } = synthZmanimApp();

describe('cdk-nag AwsSolutions', () => {
  test('the app has stacks to check', () => {
    expect(all.map((s) => s.stackName)).toEqual(expect.arrayContaining(['ZmanimProdNetwork', 'ZmanimProdSecrets', 'ZmanimProdCertificate']));
  });

  test.each(all.map((stack) => [stack.stackName, stack] as const))('%s has no unsuppressed error or warning', (_name, stack) => {
    const findings = findingsOf(stack).map((f) => `${f.id}: ${String(f.entry.data).split(':')[0]}`);
    expect(findings).toEqual([]);
  });
});

test('the nag check itself catches a finding (an S3 bucket without TLS-only and access logs)', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { App, Aspects, Stack, aws_s3: s3 } = require('aws-cdk-lib');
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { AwsSolutionsChecks } = require('cdk-nag');
  const app = new App();
  const stack = new Stack(app, 'Bad');
  new s3.Bucket(stack, 'Bucket');
  Aspects.of(app).add(new AwsSolutionsChecks());
  app.synth();
  const ids = Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')).map((f) => String(f.entry.data));
  expect(ids.join('\n')).toMatch(/AwsSolutions-S10/);
  // ...and so does the one-synth reading of it that the checks above use.
  expect(findingsOf(stack).map((f) => String(f.entry.data)).join('\n')).toMatch(/AwsSolutions-S10/);
});
