import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildDataHostInteg, GENERATION_CONTEXT, STACK_NAME as DATA_HOST_STACK } from '../../integ/integ.graviton-data-host';
import { buildResticBackupsInteg, STACK_NAME as BACKUPS_STACK } from '../../integ/integ.restic-backups';

type Build = (app: App) => unknown;

/** Synthesizes an integ app with cdk-nag on its test stack; returns the stack and nag errors. */
function synth(build: Build, stackName: string, context: Record<string, string> = {}) {
  const app = new App({ context });
  build(app);
  const stack = app.node.findChild(stackName) as Stack;
  Aspects.of(stack).add(new AwsSolutionsChecks());
  const assembly = app.synth();
  const errors = assembly.getStackByName(stack.stackName).messages
    .filter((m) => m.level === 'error')
    .map((m) => `${m.id}: ${String(m.entry.data).split('\n')[0]}`);
  return { template: Template.fromStack(stack), errors };
}

function logicalIdsOfType(template: Template, type: string): string[] {
  return Object.keys(template.findResources(type));
}

describe.each([
  ['graviton-data-host', buildDataHostInteg, DATA_HOST_STACK],
  ['restic-backups', buildResticBackupsInteg, BACKUPS_STACK],
])('integ app %s', (_name, build, stackName) => {
  test('synthesizes, and its test stack passes cdk-nag AwsSolutions', () => {
    const { errors } = synth(build, stackName);
    expect(errors).toEqual([]);
  });

  test('leaves nothing behind: the data volume and buckets are deleted with the stack, no EBS snapshots', () => {
    const { template } = synth(build, stackName);
    for (const type of ['AWS::EC2::Volume', 'AWS::S3::Bucket']) {
      for (const [id, resource] of Object.entries(template.findResources(type))) {
        expect([id, resource.DeletionPolicy]).toEqual([id, 'Delete']);
      }
    }
    expect(logicalIdsOfType(template, 'AWS::EC2::Volume')).toHaveLength(1);
    template.resourceCountIs('AWS::DLM::LifecyclePolicy', 0);
  });
});

test('the restic-backups bucket is emptied after the host is gone', () => {
  const { template } = synth(buildResticBackupsInteg, BACKUPS_STACK);
  const [instance] = logicalIdsOfType(template, 'AWS::EC2::Instance');
  const autoDelete = Object.values(template.findResources('Custom::S3AutoDeleteObjects'));
  expect(autoDelete).toHaveLength(1);
  expect(autoDelete[0].DependsOn).toContain(instance);
});

test('generation 2 of the data host (the update) replaces the instance and keeps the data volume', () => {
  const first = synth(buildDataHostInteg, DATA_HOST_STACK).template;
  const second = synth(buildDataHostInteg, DATA_HOST_STACK, { [GENERATION_CONTEXT]: '2' }).template;
  const ids = (t: Template) => Object.keys(t.toJSON().Resources);
  const removed = ids(first).filter((id) => !ids(second).includes(id));
  const added = ids(second).filter((id) => !ids(first).includes(id));
  // The instance's logical id carries a hash of its user data: a new id is a new instance.
  expect(removed).toEqual(logicalIdsOfType(first, 'AWS::EC2::Instance'));
  expect(added).toEqual(logicalIdsOfType(second, 'AWS::EC2::Instance'));
  expect(logicalIdsOfType(second, 'AWS::EC2::Volume')).toEqual(logicalIdsOfType(first, 'AWS::EC2::Volume'));
});

test('an unknown generation is refused', () => {
  expect(() => synth(buildDataHostInteg, DATA_HOST_STACK, { [GENERATION_CONTEXT]: '3' }))
    .toThrow(/shtetl-integ:data-host-generation is "3"; use 1 \(the snapshot\) or 2 \(the update\)/);
});
