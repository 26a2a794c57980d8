import { CloudFormationClient, DescribeStacksCommand, Stack } from '@aws-sdk/client-cloudformation';
import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { EC2Client } from '@aws-sdk/client-ec2';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { aws, OpsError } from './errors';
import { OpsIo } from './io';
import { OPS_OUTPUTS, OpsOutputName } from '../zmanim/outputs';

/** AWS clients of one region, created on first use. */
export class Clients {
  private readonly cache = new Map<string, unknown>();
  constructor(public readonly region: string) {}
  get ssm(): SSMClient { return this.get('ssm', () => new SSMClient({ region: this.region })); }
  get cloudFormation(): CloudFormationClient { return this.get('cfn', () => new CloudFormationClient({ region: this.region })); }
  get logs(): CloudWatchLogsClient { return this.get('logs', () => new CloudWatchLogsClient({ region: this.region })); }
  get ec2(): EC2Client { return this.get('ec2', () => new EC2Client({ region: this.region })); }
  get s3(): S3Client { return this.get('s3', () => new S3Client({ region: this.region })); }
  /** CloudFront is global; its API is served from us-east-1. */
  get cloudFront(): CloudFrontClient { return this.get('cf', () => new CloudFrontClient({ region: 'us-east-1' })); }
  private get<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }
}

export interface OpsOptions {
  readonly region: string;
  readonly stackPrefix: string;
  /** Answered "yes" to every confirmation in advance. */
  readonly yes: boolean;
}

/** What every command gets: options, I/O, clients, and the app's stack outputs. */
export class OpsContext {
  public readonly clients: Clients;
  private outputs?: Promise<Map<string, { value: string; stack: string }>>;

  constructor(public readonly options: OpsOptions, public readonly io: OpsIo) {
    this.clients = new Clients(options.region);
  }

  get region(): string { return this.options.region; }

  /** The value of one output of the app's stacks; fails saying which stack should hold it. */
  async output(name: OpsOutputName): Promise<string> {
    const value = await this.optionalOutput(name);
    if (value === undefined) {
      const spec = OPS_OUTPUTS[name];
      const stacks = [...new Set([...(await this.allOutputs()).values()].map((o) => o.stack))].sort();
      throw new OpsError(
        `Output "${spec.key}" (${spec.description}) is not in the stacks ${this.options.stackPrefix}* in ${this.region} (found: ${stacks.join(', ')}).`,
        `Deploy ${this.options.stackPrefix}${spec.stack} (npx projen deploy), or pass --stack-prefix/--region for another environment.`);
    }
    return value;
  }

  async optionalOutput(name: OpsOutputName): Promise<string | undefined> {
    return (await this.allOutputs()).get(OPS_OUTPUTS[name].key)?.value;
  }

  /** Outputs of every live stack whose name starts with the prefix, by key. */
  allOutputs(): Promise<Map<string, { value: string; stack: string }>> {
    this.outputs ??= this.loadOutputs();
    return this.outputs;
  }

  private async loadOutputs(): Promise<Map<string, { value: string; stack: string }>> {
    const stacks: Stack[] = [];
    let NextToken: string | undefined;
    do {
      const page = await aws('cloudformation:DescribeStacks', this.region,
        () => this.clients.cloudFormation.send(new DescribeStacksCommand({ NextToken })));
      stacks.push(...(page.Stacks ?? []));
      NextToken = page.NextToken;
    } while (NextToken);
    const ours = stacks.filter((s) => s.StackName?.startsWith(this.options.stackPrefix) && s.StackStatus !== 'DELETE_COMPLETE');
    if (ours.length === 0) {
      throw new OpsError(`No CloudFormation stack named ${this.options.stackPrefix}* in ${this.region}.`,
        'Check the region (--region, AWS_REGION) and the account of your credentials (`aws sts get-caller-identity`), or pass --stack-prefix for another environment.');
    }
    const outputs = new Map<string, { value: string; stack: string }>();
    for (const stack of ours) {
      for (const o of stack.Outputs ?? []) {
        if (o.OutputKey && o.OutputValue !== undefined) outputs.set(o.OutputKey, { value: o.OutputValue, stack: stack.StackName! });
      }
    }
    return outputs;
  }
}
