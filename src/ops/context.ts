import { CloudFrontClient } from '@aws-sdk/client-cloudfront';
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, DescribeInstancesCommandOutput, DescribeVolumesCommand, EC2Client, Tag } from '@aws-sdk/client-ec2';
import {
  GetResourcesCommand, GetResourcesCommandOutput, GetTagValuesCommand, ResourceGroupsTaggingAPIClient,
} from '@aws-sdk/client-resource-groups-tagging-api';
import { S3Client } from '@aws-sdk/client-s3';
import { SSMClient } from '@aws-sdk/client-ssm';
import { Target } from './config';
import { aws, explainAwsError, OpsError } from './errors';
import { OpsIo } from './io';
import { OPS_TAGS } from '../constructs/ops-tags';

/** AWS clients of one region, created on first use. */
export class Clients {
  private readonly cache = new Map<string, unknown>();
  constructor(public readonly region: string) {}
  get ssm(): SSMClient { return this.get('ssm', () => new SSMClient({ region: this.region })); }
  get logs(): CloudWatchLogsClient { return this.get('logs', () => new CloudWatchLogsClient({ region: this.region })); }
  get ec2(): EC2Client { return this.get('ec2', () => new EC2Client({ region: this.region })); }
  get s3(): S3Client { return this.get('s3', () => new S3Client({ region: this.region })); }
  get tagging(): ResourceGroupsTaggingAPIClient { return this.get('tagging', () => new ResourceGroupsTaggingAPIClient({ region: this.region })); }
  /** CloudFront is global; its API, and the tags of its distributions, are served from us-east-1. */
  get cloudFront(): CloudFrontClient { return this.get('cf', () => new CloudFrontClient({ region: 'us-east-1' })); }
  get globalS3(): S3Client { return this.get('s3-global', () => new S3Client({ region: 'us-east-1' })); }
  get globalTagging(): ResourceGroupsTaggingAPIClient { return this.get('tagging-global', () => new ResourceGroupsTaggingAPIClient({ region: 'us-east-1' })); }
  private get<T>(key: string, make: () => T): T {
    if (!this.cache.has(key)) this.cache.set(key, make());
    return this.cache.get(key) as T;
  }
}

export interface OpsOptions extends Target {
  /** Answered "yes" to every confirmation in advance. */
  readonly yes: boolean;
}

/** The data host of the service: a GravitonDataHost's instance and what its tags say. */
export interface DataHost {
  readonly instanceId: string;
  readonly state: string;
  readonly stackName?: string;
  /** The host's unique id (value of its `shtetl:data-host` tag). */
  readonly hostTag: string;
  readonly tags: ReadonlyMap<string, string>;
}

/** A resource of the service, as the Resource Groups Tagging API lists it. */
export interface TaggedResource {
  readonly arn: string;
  readonly tags: ReadonlyMap<string, string>;
}

const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];

/**
 * What every command gets: options, I/O, clients, and the service's resources, found by the
 * tags the shtetl constructs put on them (src/constructs/ops-tags.ts), never by stack names.
 */
export class OpsContext {
  public readonly clients: Clients;
  private dataHost?: Promise<DataHost>;
  private readonly tagged = new Map<string, Promise<TaggedResource[]>>();

  constructor(public readonly options: OpsOptions, public readonly io: OpsIo) {
    this.clients = new Clients(options.region);
  }

  get region(): string { return this.options.region; }
  get service(): string { return this.options.service; }

  /** "service my-service in eu-central-1 (stacks MyServiceProd*)", for messages. */
  get where(): string {
    return `service ${this.service} in ${this.region}${this.options.stackPrefix ? ` (stacks ${this.options.stackPrefix}*)` : ''}`;
  }

  /** The service's data host: the one live instance tagged shtetl:service and shtetl:data-host. */
  host(): Promise<DataHost> {
    this.dataHost ??= this.findHost();
    return this.dataHost;
  }

  /** A fact the host's instance carries as a tag; fails naming the tag when it is missing. */
  async hostTag(key: string, what: string): Promise<string> {
    const host = await this.host();
    const value = host.tags.get(key);
    if (value === undefined) {
      throw new OpsError(`The data host ${host.instanceId} has no tag ${key} (${what}).`,
        'Its stack was deployed with a version of the constructs older than this CLI: deploy it again with the current @shtetl/cdk-constructs.');
    }
    return value;
  }

  async dataVolumeId(): Promise<string> {
    const host = await this.host();
    const res = await aws('ec2:DescribeVolumes', this.region, () => this.clients.ec2.send(new DescribeVolumesCommand({
      Filters: [{ Name: `tag:${OPS_TAGS.dataVolume}`, Values: [host.hostTag] }],
    })));
    const ids = (res.Volumes ?? []).map((v) => v.VolumeId!).filter(Boolean);
    if (ids.length !== 1) {
      throw new OpsError(`${ids.length === 0 ? 'No' : `${ids.length}`} EBS volume${ids.length === 1 ? '' : 's'} tagged ${OPS_TAGS.dataVolume}=${host.hostTag} (the /data of ${host.instanceId})${ids.length ? `: ${ids.join(', ')}` : ''}.`,
        'The /data volume is retained on purpose; look for it in the EC2 console (its Name tag ends in /data) before changing anything.');
    }
    return ids[0];
  }

  /** The log group of one of the host's logs (api, postgresql, redis, boot). */
  async logGroup(name: string): Promise<string> {
    let groups = (await this.resources('logs:log-group')).filter((r) => r.tags.get(OPS_TAGS.log) === name);
    if (groups.length > 1) {
      // Several hosts of the service (or leftovers): keep the live host's.
      const host = await this.host().catch(() => undefined);
      if (host) groups = groups.filter((g) => g.tags.get(OPS_TAGS.dataHost) === host.hostTag);
    }
    const names = groups.map((g) => g.arn.replace(/^.*?:log-group:/, '').replace(/:\*$/, ''));
    if (names.length === 1) return names[0];
    if (names.length === 0) {
      throw new OpsError(`No log group tagged ${OPS_TAGS.log}=${name} for ${this.where}.`,
        `Check --service and --region (\`shtetl-ops --service ${this.service} outputs\`); a GravitonDataHost of the current constructs tags its log groups.`);
    }
    throw new OpsError(`${names.length} log groups tagged ${OPS_TAGS.log}=${name} for ${this.where}: ${names.join(', ')}.`,
      'Pass --stack-prefix with the start of the stack name of the environment you mean.');
  }

  /** The site's CloudFront distribution (an OpenNextSite of the service). */
  async distributionId(): Promise<string> {
    const ids = (await this.resources('cloudfront:distribution', true)).map((r) => r.arn.replace(/^.*:distribution\//, ''));
    if (ids.length === 1) return ids[0];
    throw new OpsError(ids.length === 0
      ? `No CloudFront distribution tagged ${OPS_TAGS.service}=${this.service}${this.options.stackPrefix ? ` in stacks ${this.options.stackPrefix}*` : ''}.`
      : `${ids.length} CloudFront distributions of ${this.where}: ${ids.join(', ')}.`,
    'Pass --distribution-id ID (`aws cloudfront list-distributions`), or --stack-prefix for one environment.');
  }

  /** The ResticBackups repository of the service: its bucket and key prefix. */
  async backupRepository(): Promise<{ bucket: string; prefix: string }> {
    const found = (await this.resources('s3')).filter((r) => r.tags.has(OPS_TAGS.backups));
    if (found.length !== 1) {
      throw new OpsError(`${found.length === 0 ? 'No' : found.length} bucket${found.length === 1 ? '' : 's'} tagged ${OPS_TAGS.backups} for ${this.where}${found.length ? `: ${found.map((r) => r.arn).join(', ')}` : ''}.`,
        found.length ? 'Pass --stack-prefix for one environment.' : 'Check --service and --region; ResticBackups tags its repository bucket.');
    }
    return { bucket: found[0].arn.replace(/^arn:[^:]+:s3:::/, ''), prefix: found[0].tags.get(OPS_TAGS.backups) ?? '' };
  }

  /** The service's resources of one type (Resource Groups Tagging API), in the region or global. */
  resources(type: string, global = false): Promise<TaggedResource[]> {
    const key = `${global}:${type}`;
    if (!this.tagged.has(key)) this.tagged.set(key, this.listResources(type, global));
    return this.tagged.get(key)!;
  }

  private async listResources(type: string, global: boolean): Promise<TaggedResource[]> {
    const client = global ? this.clients.globalTagging : this.clients.tagging;
    const region = global ? 'us-east-1' : this.region;
    const found: TaggedResource[] = [];
    let PaginationToken: string | undefined;
    do {
      const page: GetResourcesCommandOutput = await aws('tag:GetResources', region, () => client.send(new GetResourcesCommand({
        TagFilters: [{ Key: OPS_TAGS.service, Values: [this.service] }], ResourceTypeFilters: [type], PaginationToken,
      })));
      for (const r of page.ResourceTagMappingList ?? []) {
        if (r.ResourceARN) found.push({ arn: r.ResourceARN, tags: new Map((r.Tags ?? []).map((t) => [t.Key!, t.Value ?? ''])) });
      }
      PaginationToken = page.PaginationToken || undefined;
    } while (PaginationToken);
    return found.filter((r) => this.inStacks(r.tags.get(OPS_TAGS.stackName)));
  }

  private inStacks(stackName: string | undefined): boolean {
    const prefix = this.options.stackPrefix;
    return !prefix || stackName === undefined || stackName.startsWith(prefix);
  }

  private async findHost(): Promise<DataHost> {
    const hosts: DataHost[] = [];
    let NextToken: string | undefined;
    do {
      const page: DescribeInstancesCommandOutput = await aws('ec2:DescribeInstances', this.region, () => this.clients.ec2.send(new DescribeInstancesCommand({
        Filters: [
          { Name: `tag:${OPS_TAGS.service}`, Values: [this.service] },
          { Name: 'tag-key', Values: [OPS_TAGS.dataHost] },
          { Name: 'instance-state-name', Values: LIVE_STATES },
        ],
        NextToken,
      })));
      for (const instance of (page.Reservations ?? []).flatMap((r) => r.Instances ?? [])) {
        const tags = new Map((instance.Tags ?? []).map((t: Tag) => [t.Key!, t.Value ?? '']));
        hosts.push({
          instanceId: instance.InstanceId!,
          state: instance.State?.Name ?? 'unknown',
          stackName: tags.get(OPS_TAGS.stackName),
          hostTag: tags.get(OPS_TAGS.dataHost)!,
          tags,
        });
      }
      NextToken = page.NextToken;
    } while (NextToken);
    const ours = hosts.filter((h) => this.inStacks(h.stackName));
    if (ours.length === 1) return ours[0];
    if (ours.length > 1) {
      throw new OpsError(`${ours.length} data hosts of ${this.where}: ${ours.map((h) => `${h.instanceId} (${h.state}, stack ${h.stackName ?? '?'})`).join(', ')}.`,
        'Pass --stack-prefix with the start of the stack name of the environment you mean (or set stackPrefix in cdk.json "shtetl-ops").');
    }
    const services = await this.taggedServices();
    const others = services.filter((s) => s !== this.service);
    throw new OpsError(`No data host of ${this.where}: no pending, running or stopped EC2 instance tagged ${OPS_TAGS.service}=${this.service} and ${OPS_TAGS.dataHost}.`,
      `${services.includes(this.service) ? `The service has resources in ${this.region}, but no live host: if it was terminated, deploy its stack again (the new instance attaches the retained /data itself; docs/operations.md, "Disaster recovery").`
        : others.length ? `Services tagged in ${this.region}: ${others.join(', ')}. Pass --service NAME.`
          : `Nothing in ${this.region} is tagged ${OPS_TAGS.service}: check --region and the account of your credentials (\`aws sts get-caller-identity\`).`}`);
  }

  /** Every value of the shtetl:service tag in the region; for hints, empty when unreadable. */
  async taggedServices(strict = false): Promise<string[]> {
    try {
      const values: string[] = [];
      let PaginationToken: string | undefined;
      do {
        const page = await this.clients.tagging.send(new GetTagValuesCommand({ Key: OPS_TAGS.service, PaginationToken }));
        values.push(...(page.TagValues ?? []));
        PaginationToken = page.PaginationToken || undefined;
      } while (PaginationToken);
      return values.sort();
    } catch (error) {
      if (strict) throw explainAwsError(error, 'tag:GetTagValues', this.region);
      return [];
    }
  }
}
