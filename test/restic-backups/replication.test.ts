import { App, Aspects, Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ResticBackups, ResticBackupsProps } from '../../src/constructs/restic-backups';
import { RecordingHost } from '../support/recording-host';

const REPLICA = 'zmanim-prod-backups-123456789012-eu-central-1';

function build(extra: (stack: Stack) => Partial<ResticBackupsProps> = (stack) => ({
  replicationDestination: s3.Bucket.fromBucketAttributes(stack, 'Replica', { bucketName: REPLICA, region: 'eu-central-1' }),
})) {
  const app = new App();
  const stack = new Stack(app, 'Stack', { env: { account: '123456789012', region: 'eu-west-1' } });
  Aspects.of(stack).add(new AwsSolutionsChecks({ verbose: true }));
  const backups = new ResticBackups(stack, 'Backups', {
    host: new RecordingHost(stack, 'Host'),
    passwordParameterName: '/zmanim/prod/restic-password',
    backupSetName: 'zmanim-prod',
    sources: [{ name: 'database', interval: Duration.days(1), postgres: { database: 'zmanim' } }],
    ...extra(stack),
  });
  const template = Template.fromStack(stack);
  return { stack, backups, template };
}

function nagFindings(stack: Stack): string[] {
  return [
    ...Annotations.fromStack(stack).findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...Annotations.fromStack(stack).findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data)}`);
}

describe('replication to a bucket in a second region', () => {
  const { stack, backups, template } = build();

  test('replicates every object of the versioned repository bucket, without delete markers', () => {
    template.hasResourceProperties('AWS::S3::Bucket', {
      VersioningConfiguration: { Status: 'Enabled' },
      ReplicationConfiguration: {
        Role: { 'Fn::GetAtt': [Match.stringLikeRegexp('^BackupsReplicationRole'), 'Arn'] },
        Rules: [{
          Id: 'restic-repository-replica',
          Status: 'Enabled',
          Destination: { Bucket: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${REPLICA}`]] } },
          DeleteMarkerReplication: { Status: 'Disabled' },
          // An empty filter: the whole bucket (all of the repository, whatever its prefix).
          Filter: { Prefix: '' },
        }],
      },
    });
  });

  test('S3 assumes a role of the construct that reads the source versions and writes replicas, nothing else', () => {
    expect(backups.replicationRole).toBeDefined();
    template.hasResourceProperties('AWS::IAM::Role', {
      AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 's3.amazonaws.com' } })] },
    });
    // Not the fixed name Bucket gives its own role: two repositories in one account would collide.
    template.resourcePropertiesCountIs('AWS::IAM::Role', { RoleName: 'CDKReplicationRole' }, 0);
    const policies = template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: stack.getLogicalId(backups.replicationRole!.node.defaultChild as iam.CfnRole) }] } });
    const statements = Object.values(policies).flatMap((p) => (p as any).Properties.PolicyDocument.Statement);
    const actions = statements.flatMap((s: any) => ([] as string[]).concat(s.Action)).sort();
    expect(actions).toEqual([
      's3:GetObjectVersionAcl', 's3:GetObjectVersionForReplication', 's3:GetObjectVersionTagging',
      's3:GetReplicationConfiguration', 's3:ListBucket', 's3:ObjectOwnerOverrideToBucketOwner',
      's3:ReplicateDelete', 's3:ReplicateObject', 's3:ReplicateTags',
    ].sort());
    const replicate = statements.find((s: any) => ([] as string[]).concat(s.Action).includes('s3:ReplicateObject'));
    expect(replicate.Resource).toEqual({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:s3:::${REPLICA}/*`]] });
  });

  test('is cdk-nag clean', () => {
    // The host role's KMS findings belong to the backup grants (construct.test.ts), not to replication.
    expect(nagFindings(stack).filter((f) => f.includes('Replication'))).toEqual([]);
  });
});

describe('replication with KMS keys', () => {
  test('the replicas are encrypted with the destination key, and the role may use both keys', () => {
    const { stack, template } = build((s) => {
      const replicaKey = kms.Key.fromKeyArn(s, 'ReplicaKey', 'arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555');
      return {
        encryptionKey: new kms.Key(s, 'Key', { enableKeyRotation: true }),
        replicationDestination: s3.Bucket.fromBucketAttributes(s, 'Replica', { bucketName: REPLICA, region: 'eu-central-1', encryptionKey: replicaKey }),
        replicationDestinationKey: replicaKey,
        replicationStorageClass: s3.StorageClass.INFREQUENT_ACCESS,
      };
    });
    template.hasResourceProperties('AWS::S3::Bucket', {
      ReplicationConfiguration: {
        Rules: [Match.objectLike({
          Destination: Match.objectLike({
            EncryptionConfiguration: { ReplicaKmsKeyID: 'arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555' },
            StorageClass: 'STANDARD_IA',
          }),
          SourceSelectionCriteria: { SseKmsEncryptedObjects: { Status: 'Enabled' } },
        })],
      },
    });
    const policies = JSON.stringify(template.findResources('AWS::IAM::Policy'));
    expect(policies).toContain('kms:Encrypt');
    expect(policies).toContain('arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555');
    // The host role's KMS findings belong to the backup grants (construct.test.ts), not to replication.
    expect(nagFindings(stack).filter((f) => f.includes('Replication'))).toEqual([]);
  });
});

describe('without replicationDestination', () => {
  test('the bucket has no replication and no replication role', () => {
    const { backups, template } = build(() => ({}));
    expect(backups.replicationRole).toBeUndefined();
    template.hasResourceProperties('AWS::S3::Bucket', { ReplicationConfiguration: Match.absent() });
    template.resourcePropertiesCountIs('AWS::IAM::Role', { AssumeRolePolicyDocument: { Statement: [Match.objectLike({ Principal: { Service: 's3.amazonaws.com' } })] } }, 0);
  });
});

describe('props validation', () => {
  const replica = (s: Stack) => s3.Bucket.fromBucketName(s, 'R', REPLICA);
  const key = (s: Stack) => kms.Key.fromKeyArn(s, 'K', 'arn:aws:kms:eu-central-1:123456789012:key/11111111-2222-3333-4444-555555555555');
  test.each<[string, (s: Stack) => Partial<ResticBackupsProps>, RegExp]>([
    ['a destination key without destination', (s) => ({ replicationDestinationKey: key(s) }), /replicationDestinationKey is set without replicationDestination/],
    ['a storage class without destination', () => ({ replicationStorageClass: s3.StorageClass.GLACIER }), /replicationStorageClass GLACIER is set without replicationDestination/],
    ['an SSE-KMS repository without a replica key', (s) => ({ encryptionKey: new kms.Key(s, 'Key'), replicationDestination: replica(s) }), /pass replicationDestinationKey/],
    ['Object Lock with replication', (s) => ({ objectLockRetention: Duration.days(7), replicationDestination: replica(s) }), /objectLockRetention and replicationDestination together/],
  ])('rejects %s', (_what, props, message) => {
    expect(() => build(props)).toThrow(message);
  });
});
