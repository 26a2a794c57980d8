import { isAbsolute, join } from 'node:path';
import { App, Aspects, Stack, StackProps, Tags } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_CONFIG, ZmanimConfig } from './config';
import { ensureFixtureSite } from './prepare-assets';
import { isManaged } from './profiles';
import { ApiFleetStack } from './stacks/api-fleet-stack';
import { ApiStack } from './stacks/api-stack';
import { BackupReplicaStack } from './stacks/backup-replica-stack';
import { CertificateStack } from './stacks/certificate-stack';
import { ComputeStack } from './stacks/compute-stack';
import { DnsRecordsStack } from './stacks/dns-records-stack';
import { GitHubOidcStack, siteDeployNames, siteStackSynthesizer } from './stacks/github-oidc-stack';
import { HealthCheckStack } from './stacks/health-check-stack';
import { ManagedDataStack } from './stacks/managed-data-stack';
import { DashboardStack, MonitoringStack } from './stacks/monitoring-stack';
import { NetworkStack } from './stacks/network-stack';
import { NextjsStack } from './stacks/nextjs-stack';
import { SecretsStack } from './stacks/secrets-stack';

/** CloudFront certificates and Route 53 health-check metrics only exist in us-east-1. */
export const GLOBAL_REGION = 'us-east-1';

/** Every stack of the zmanim system, for tests and for stacks that depend on others. */
export interface ZmanimStacks {
  readonly network: NetworkStack;
  readonly secrets: SecretsStack;
  readonly monitoring: MonitoringStack;
  readonly certificate: CertificateStack;
  /** The single host (`single-host` profile); reading it under `managed` throws. */
  readonly compute: ComputeStack;
  /** The backup repository's replica in `backupReplicaRegion` (single host, when configured). */
  readonly backupReplica?: BackupReplicaStack;
  /** RDS and ElastiCache (`managed` profile only). */
  readonly data?: ManagedDataStack;
  /** The API fleet and its load balancer (`managed` profile only). */
  readonly fleet?: ApiFleetStack;
  readonly api: ApiStack;
  readonly healthCheck?: HealthCheckStack;
  readonly githubOidc: GitHubOidcStack;
  readonly nextjs: NextjsStack;
  readonly dnsRecords: DnsRecordsStack;
  readonly dashboard: DashboardStack;
}

/**
 * Composes the library's constructs into the production zmanim system. Each seed stack is
 * one class under ./stacks; adding one is one line here.
 */
export function createZmanimStacks(app: App, config: ZmanimConfig): ZmanimStacks {
  const prefix = `Zmanim${capitalize(config.environment)}`;
  const regional: StackProps = { env: { account: config.account, region: config.region }, crossRegionReferences: true };
  const global: StackProps = { env: { account: config.account, region: GLOBAL_REGION }, crossRegionReferences: true };
  const stackProps = (base: StackProps, description: string) => ({ ...base, description: `zmanim ${config.environment}: ${description}`, config });

  const network = new NetworkStack(app, `${prefix}Network`, stackProps(regional, 'VPC, subnets, endpoints'));
  const secrets = new SecretsStack(app, `${prefix}Secrets`, stackProps(regional, `generated secrets under ${config.ssmPrefix}`));
  const monitoring = new MonitoringStack(app, `${prefix}Monitoring`, stackProps(regional, 'alarm topic'));
  const certificate = new CertificateStack(app, `${prefix}Certificate`, stackProps(global, `ACM certificate for ${config.domain}`));
  // The capacity profile (README, "Scaling path") picks what runs the API and holds the data:
  // one Graviton host (Compute), or RDS and ElastiCache (Data) with an API fleet (ApiFleet).
  let compute: ComputeStack | undefined;
  let backupReplica: BackupReplicaStack | undefined;
  let data: ManagedDataStack | undefined;
  let fleet: ApiFleetStack | undefined;
  if (isManaged(config)) {
    data = new ManagedDataStack(app, `${prefix}Data`, { ...stackProps(regional, 'RDS for PostgreSQL and ElastiCache for Valkey (managed profile)'), vpc: network.vpc, alarmTopic: monitoring.alarmTopic });
    data.addDependency(secrets, 'the cache\'s AUTH token is the generated redis-password');
    fleet = new ApiFleetStack(app, `${prefix}ApiFleet`, { ...stackProps(regional, 'the Go API on an Auto Scaling group behind an internal load balancer, releases (managed profile)'), vpc: network.vpc, data, alarmTopic: monitoring.alarmTopic });
    fleet.addDependency(secrets, 'the instances read the generated secrets at boot');
  } else {
    const replicaRegion: StackProps = { ...regional, env: { account: config.account, region: config.backupReplicaRegion } };
    backupReplica = config.backupReplicaRegion
      ? new BackupReplicaStack(app, `${prefix}BackupReplica`, stackProps(replicaRegion, `replica of the backup repository in ${config.backupReplicaRegion}`))
      : undefined;
    compute = new ComputeStack(app, `${prefix}Compute`, { ...stackProps(regional, 'Graviton data host (API, PostgreSQL, Redis), data volume, releases'), vpc: network.vpc, alarmTopic: monitoring.alarmTopic, backupReplica });
    compute.addDependency(secrets, 'the host reads the generated secrets at its first boot');
    if (backupReplica) compute.addDependency(backupReplica, 'S3 replication needs the versioned destination bucket');
  }
  const api = new ApiStack(app, `${prefix}Api`, {
    ...stackProps(regional, `HTTP API under https://${config.domain}/backend/ (origin-verified, Clerk JWT, VPC link to the ${fleet ? 'API fleet' : 'host'})`),
    vpc: network.vpc,
    host: compute?.host,
    backendListener: fleet?.listener,
    alarmTopic: monitoring.alarmTopic,
  });
  if (compute) api.addDependency(compute, 'the host\'s id and address are read from the SSM parameters Compute writes');
  const healthCheck = config.enableHealthCheck
    ? new HealthCheckStack(app, `${prefix}HealthCheck`, stackProps(global, `Route 53 health check of ${config.domain}`))
    : undefined;
  const nextjs = new NextjsStack(app, `${prefix}Nextjs`, {
    ...stackProps(regional, `Next.js site at ${config.domain} (OpenNext, CloudFront)`),
    openNextPath: siteBuild(config),
    certificate: certificate.certificate,
    api: api.api,
    // Deployed with the site's own roles (GitHubOidc stack), never the bootstrap roles: the
    // frontend workflow can change this stack and nothing else (README, GitHub OIDC).
    synthesizer: siteStackSynthesizer(config),
  });
  iam.PermissionsBoundary.of(nextjs).apply(iam.ManagedPolicy.fromManagedPolicyName(nextjs, 'SiteBoundary', siteDeployNames(config, nextjs.account).boundaryPolicy));
  const dnsRecords = new DnsRecordsStack(app, `${prefix}DnsRecords`, {
    ...stackProps(regional, `A/AAAA aliases of ${config.domain}`),
    distribution: nextjs.site.distribution,
  });
  const githubOidc = new GitHubOidcStack(app, `${prefix}GitHubOidc`, {
    ...stackProps(regional, 'GitHub OIDC provider and one deploy role per workflow'),
    releaseBucketName: (compute ?? fleet)!.releaseBucket.bucketName,
    // A plain name (no export): the backend role may send this document and no other.
    deployApiDocumentName: compute ? compute.host.deployApiCommand.documentName : fleet!.deployApiDocumentName,
    protectedVpcId: network.vpc.vpcId,
  });
  nextjs.addDependency(githubOidc, 'the site deploys with the roles and staging bucket of the GitHub OIDC stack');
  // Last: it shows every other stack's metrics and alarms (README "Operations").
  const dashboard = new DashboardStack(app, `${prefix}Dashboard`, {
    ...stackProps(regional, 'CloudWatch dashboard of the seed\'s metrics and every alarm'),
    host: compute?.host,
    backups: compute?.backups,
    httpApi: api.api.httpApi,
    functions: { 'next.js server': nextjs.site.serverFunction, 'image optimisation': nextjs.site.imageFunction, 'origin-verify authorizer': api.api.authorizerFunction },
    distribution: nextjs.site.distribution,
  });

  Tags.of(app).add('project', 'zmanim');
  Tags.of(app).add('environment', config.environment);
  const stacks = {
    network, secrets, monitoring, certificate, backupReplica, api, healthCheck, githubOidc, nextjs, dnsRecords, dashboard, data, fleet,
  };
  if (compute) return { ...stacks, compute };
  return Object.defineProperty(stacks, 'compute', {
    get: () => { throw new Error(`The "${config.capacityProfile}" capacity profile has no Compute stack (single host): use stacks.data and stacks.fleet`); },
    enumerable: false,
  }) as ZmanimStacks;
}

/** Adds cdk-nag's AwsSolutions rules to every stack of the app. */
export function addNagChecks(app: App): void {
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
}

/** All stacks of the app, in construction order. */
export function allStacks(app: App): Stack[] {
  return app.node.children.filter((c): c is Stack => Stack.isStack(c));
}

/**
 * The site's `.open-next` folder. The default is the repository's fixture app, built here
 * when missing or stale so that synth works on a fresh clone; any other path must already
 * be built (the frontend workflow builds the web app first).
 */
function siteBuild(config: ZmanimConfig): string {
  const root = join(__dirname, '..', '..');
  if (config.site.openNextPath === DEFAULT_CONFIG.site.openNextPath) return ensureFixtureSite(root);
  return isAbsolute(config.site.openNextPath) ? config.site.openNextPath : join(root, config.site.openNextPath);
}

function capitalize(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}
