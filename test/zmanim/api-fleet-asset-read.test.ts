import { Template } from 'aws-cdk-lib/assertions';
import { synthZmanimApp } from './app-fixture';

/**
 * The managed profile's fleet instances read their three script assets from the CDK staging
 * bucket: those objects only, never the whole bucket (which holds every stack's assets).
 */
test('fleet instances may get the asset objects only, not list or read the staging bucket', () => {
  const { stacks } = synthZmanimApp({ capacityProfile: 'managed', managed: {} });
  const template = Template.fromStack(stacks.fleet!);
  const statements = Object.values(template.findResources('AWS::IAM::Policy'))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as any[]);
  const staging = statements.filter((s) => JSON.stringify(s.Resource).includes('cdk-hnb659fds-assets'));
  expect(staging).toEqual([expect.objectContaining({ Effect: 'Allow', Action: 's3:GetObject' })]);
  const resources = [staging[0].Resource].flat().map((r: unknown) => JSON.stringify(r));
  expect(resources).toHaveLength(3);
  for (const r of resources) expect(r).toMatch(/cdk-hnb659fds-assets-[^"/]*\/[0-9a-f]{64}\.zip"$/);
});
