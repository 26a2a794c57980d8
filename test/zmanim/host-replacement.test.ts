/**
 * The data host is replaced whenever its boot scripts, type or image change. CloudFormation
 * refuses to change or remove an export that another stack imports, so no export that another
 * stack imports may depend on the instance: otherwise the Compute stack could never deploy a
 * replacement (the "deadly embrace" of cross-stack references).
 */
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { synthZmanimApp } from './app-fixture';

jest.setTimeout(240_000);

type Exports = Record<string, string>;

/** Compute's exports that some other stack imports, as name -> resolved value. */
function importedComputeExports(overrides: Parameters<typeof synthZmanimApp>[0]): { exports: Exports; instanceIds: string[]; api: Template } {
  const { all, stacks } = synthZmanimApp(overrides);
  const compute = Template.fromStack(stacks.compute).toJSON();
  const imported = new Set(all.filter((s) => s !== stacks.compute)
    .flatMap((s) => JSON.stringify(Template.fromStack(s as Stack).toJSON()).match(/"Fn::ImportValue":"[^"]+"/g) ?? [])
    .map((m) => m.slice('"Fn::ImportValue":"'.length, -1)));
  const exports: Exports = {};
  for (const output of Object.values<any>(compute.Outputs ?? {})) {
    const name = output.Export?.Name;
    if (name && imported.has(name)) exports[name] = JSON.stringify(output.Value);
  }
  const instanceIds = Object.entries<any>(compute.Resources).filter(([, r]) => r.Type === 'AWS::EC2::Instance').map(([id]) => id);
  return { exports, instanceIds, api: Template.fromStack(stacks.api) };
}

test('replacing the host changes no export that another stack imports', () => {
  const before = importedComputeExports({});
  const after = importedComputeExports({ instanceType: 'm7g.large' });
  // The change does replace the instance (a new logical id)...
  expect(after.instanceIds).toHaveLength(1);
  expect(after.instanceIds).not.toEqual(before.instanceIds);
  // ...and every export in use stays exactly as it was, none of them the instance's.
  expect(Object.keys(before.exports).length).toBeGreaterThan(0);
  expect(after.exports).toEqual(before.exports);
  expect(Object.values(before.exports).join(' ')).not.toContain(before.instanceIds[0]);
});

test('the Api stack reads the host\'s id and address from the SSM parameters that Compute writes', () => {
  const { stacks } = synthZmanimApp();
  const compute = Template.fromStack(stacks.compute);
  const [instance] = Object.keys(compute.findResources('AWS::EC2::Instance'));
  compute.hasResourceProperties('AWS::SSM::Parameter', { Name: '/zmanim/prod/host/instance-id', Type: 'String', Value: { Ref: instance } });
  compute.hasResourceProperties('AWS::SSM::Parameter', { Name: '/zmanim/prod/host/private-ip', Type: 'String', Value: { 'Fn::GetAtt': [instance, 'PrivateIp'] } });
  const params = Object.values<any>(Template.fromStack(stacks.api).toJSON().Parameters);
  expect(params).toEqual(expect.arrayContaining([
    expect.objectContaining({ Type: 'AWS::SSM::Parameter::Value<String>', Default: '/zmanim/prod/host/instance-id' }),
    expect.objectContaining({ Type: 'AWS::SSM::Parameter::Value<String>', Default: '/zmanim/prod/host/private-ip' }),
  ]));
  // The CDK CLI deploys a stack with SSM parameters every time (it cannot know their values),
  // so the Api stack picks up a replaced host right after Compute.
  expect(stacks.api.dependencies).toContain(stacks.compute);
});
