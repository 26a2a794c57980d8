import { Tags } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { OPS_TAGS } from '../ops-tags';

/** What a GravitonDataHost tells operators (through `shtetl-ops`) about itself. */
export interface DataHostOpsFacts {
  readonly instance: ec2.Instance;
  /** The host's unique id (the value of its `shtetl:data-host` tags). */
  readonly hostTag: string;
  readonly logGroups: { [name: string]: logs.ILogGroup };
  readonly parameterPath: string;
  readonly apiPort: number;
  readonly apiHealthPath: string;
  readonly databaseName: string;
  readonly databaseUser: string;
  readonly releaseBucket?: s3.IBucket;
  readonly releaseKey: string;
}

/**
 * Tags the host's instance and log groups so that `shtetl-ops` finds them and knows how to
 * operate the host without reading the app's code (keys: ../ops-tags.ts). Tag changes update
 * the instance in place (they are not part of its replacement hash).
 */
export function tagDataHostForOperations(facts: DataHostOpsFacts): void {
  const tags = Tags.of(facts.instance);
  tags.add(OPS_TAGS.parameterPath, facts.parameterPath);
  tags.add(OPS_TAGS.healthUrl, `http://127.0.0.1:${facts.apiPort}${facts.apiHealthPath}`);
  tags.add(OPS_TAGS.database, facts.databaseName);
  tags.add(OPS_TAGS.databaseUser, facts.databaseUser);
  if (facts.releaseBucket) tags.add(OPS_TAGS.release, `${facts.releaseBucket.bucketName}/${facts.releaseKey}`);
  for (const [name, group] of Object.entries(facts.logGroups)) {
    Tags.of(group).add(OPS_TAGS.dataHost, facts.hostTag);
    Tags.of(group).add(OPS_TAGS.log, name);
  }
}
