import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AlertTopic } from '../../src/zmanim/alert-topic';
import { appContext } from '../support/app-context';

/** CloudWatch may use the alert topic's key and publish to it only for this account's alarms. */
test('the CloudWatch grants on key and topic carry aws:SourceAccount and aws:SourceArn', () => {
  const stack = new Stack(new App({ context: appContext() }), 'Monitoring', { env: { account: '123456789012', region: 'eu-west-1' } });
  new AlertTopic(stack, 'Alerts', { emails: ['ops@example.com'], displayName: 'alerts' });
  const template = Template.fromStack(stack);
  const statements = [
    ...Object.values(template.findResources('AWS::KMS::Key')).flatMap((r) => r.Properties.KeyPolicy.Statement),
    ...Object.values(template.findResources('AWS::SNS::TopicPolicy')).flatMap((r) => r.Properties.PolicyDocument.Statement),
  ].filter((s) => s.Principal?.Service === 'cloudwatch.amazonaws.com');
  expect(statements.map((s) => [s.Action].flat().sort())).toEqual([['kms:Decrypt', 'kms:GenerateDataKey*'], ['sns:Publish']]);
  for (const s of statements) {
    expect(s.Effect).toBe('Allow');
    expect(s.Condition).toEqual({
      StringEquals: { 'aws:SourceAccount': '123456789012' },
      ArnLike: { 'aws:SourceArn': 'arn:aws:cloudwatch:*:123456789012:alarm:*' },
    });
  }
});
