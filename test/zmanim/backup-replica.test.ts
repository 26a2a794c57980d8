import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { synthZmanimApp, TEST_ACCOUNT } from './app-fixture';
import { DEFAULT_CONFIG, validateConfig } from '../../src/zmanim/config';
import { allStacks, createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';
import { findingsOf } from '../support/nag';

const REPLICA = `zmanim-prod-backups-${TEST_ACCOUNT}-eu-central-1`;

describe('the backup replica (default config)', () => {
  const { stacks, all } = synthZmanimApp();
  const replica = stacks.backupReplica!;
  const compute = Template.fromStack(stacks.compute);

  test('is a stack of its own in backupReplicaRegion, deployed before Compute', () => {
    expect(replica.stackName).toBe('ZmanimProdBackupReplica');
    expect(replica.region).toBe(DEFAULT_CONFIG.backupReplicaRegion);
    expect(replica.region).not.toBe(DEFAULT_CONFIG.region);
    expect(stacks.compute.dependencies).toContain(replica);
    expect(all.indexOf(replica)).toBeLessThan(all.indexOf(stacks.compute));
  });

  test('holds a versioned, SSE-S3, private, TLS-only, retained bucket with a fixed name', () => {
    const t = Template.fromStack(replica);
    t.resourceCountIs('AWS::S3::Bucket', 1);
    t.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketName: REPLICA,
        VersioningConfiguration: { Status: 'Enabled' },
        BucketEncryption: {
          ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
        },
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        LifecycleConfiguration: {
          Rules: [Match.objectLike({
            NoncurrentVersionExpiration: { NoncurrentDays: 90 },
            AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
          })],
        },
      },
    });
    t.hasResourceProperties('AWS::S3::BucketPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('the repository bucket in Compute replicates to it by name (no cross-region reference, no delete markers)', () => {
    compute.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: {
        Rules: [Match.objectLike({
          Destination: { Bucket: `arn:aws:s3:::${REPLICA}` },
          DeleteMarkerReplication: { Status: 'Disabled' },
        })],
      },
    });
    // crossRegionReferences would add SSM-writer/reader custom resources; a name needs neither.
    for (const s of [stacks.compute, replica]) {
      expect(Object.keys(Template.fromStack(s).findResources('Custom::CrossRegionExportWriter'))).toEqual([]);
      expect(Object.keys(Template.fromStack(s).findResources('Custom::CrossRegionExportReader'))).toEqual([]);
    }
  });

  test('Compute outputs the replica for shtetl-ops', () => {
    compute.hasOutput('BackupReplicaBucketName', { Value: REPLICA });
    compute.hasOutput('BackupReplicaRegion', { Value: 'eu-central-1' });
  });

  test('is cdk-nag clean', () => {
    const findings = findingsOf(replica, /[^]*/);
    expect(findings.map((f) => `${f.id}: ${String(f.entry.data)}`)).toEqual([]);
  });
});

test('without an account in the config, the name uses the deploying account (same in both regions)', () => {
  const app = new App({ context: appContext() });
  const stacks = createZmanimStacks(app, { ...DEFAULT_CONFIG, account: undefined });
  const name = { 'Fn::Join': ['', ['zmanim-prod-backups-', { Ref: 'AWS::AccountId' }, '-eu-central-1']] };
  Template.fromStack(stacks.backupReplica!).hasResourceProperties('AWS::S3::Bucket', { BucketName: name });
  Template.fromStack(stacks.compute).hasOutput('BackupReplicaBucketName', { Value: name });
});

test('backupReplicaRegion "" turns the replica off', () => {
  const app = new App({ context: appContext() });
  const stacks = createZmanimStacks(app, { ...DEFAULT_CONFIG, account: TEST_ACCOUNT, backupReplicaRegion: '' });
  expect(stacks.backupReplica).toBeUndefined();
  expect(allStacks(app).map((s) => s.stackName)).not.toContain('ZmanimProdBackupReplica');
  const compute = Template.fromStack(stacks.compute);
  compute.hasResourceProperties('AWS::S3::Bucket', { ReplicationConfiguration: Match.absent(), VersioningConfiguration: { Status: 'Enabled' }, LifecycleConfiguration: Match.objectLike({ Rules: [Match.objectLike({ Id: 'noncurrent-versions-and-incomplete-uploads' })] }) });
  expect(Object.keys(compute.findOutputs('*'))).not.toContain('BackupReplicaBucketName');
});

describe('config validation of backupReplicaRegion', () => {
  test.each([
    ['the main region', 'eu-west-1', /"backupReplicaRegion" \("eu-west-1"\): is the system's own region/],
    ['not a region', 'frankfurt', /"backupReplicaRegion" \("frankfurt"\): is not an AWS region name/],
  ])('rejects %s', (_what, value, message) => {
    expect(() => validateConfig({ ...DEFAULT_CONFIG, backupReplicaRegion: value })).toThrow(message);
  });
  test('accepts another region and ""', () => {
    expect(() => validateConfig({ ...DEFAULT_CONFIG, backupReplicaRegion: 'us-west-2' })).not.toThrow();
    expect(() => validateConfig({ ...DEFAULT_CONFIG, backupReplicaRegion: '' })).not.toThrow();
  });
});
