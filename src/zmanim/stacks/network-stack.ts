import { RemovalPolicy, Stack, StackProps } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as logs from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { ZmanimConfig } from '../config';
import { isManaged, managedCapacity } from '../profiles';

export interface NetworkStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The seed's Network stack: one AZ, public subnets only (the host has no inbound rule from
 * the internet; it needs egress for packages and AWS APIs), no NAT gateway (the host has a
 * public address), and an S3 gateway endpoint so backups and releases stay off the internet
 * and cost no data processing.
 */
export class NetworkStack extends Stack {
  public readonly vpc: ec2.Vpc;
  private readonly zones: string[];

  constructor(scope: Construct, id: string, props: NetworkStackProps) {
    super(scope, id, props);
    const { config } = props;
    const publicSubnets: ec2.SubnetConfiguration = { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 };
    // The managed profile (README, "Scaling path") adds zones and private subnets for the
    // database, cache and API fleet, with one NAT gateway for the fleet's egress (SSM,
    // CloudWatch, releases): cheaper than the six interface endpoints it would need per zone.
    // The first public subnet keeps its CIDR, so a single host in it stays where it is.
    const managed = isManaged(config) ? managedCapacity(config) : undefined;
    this.zones = managed ? managed.availabilityZones : [config.availabilityZone];
    this.vpc = new ec2.Vpc(this, 'Vpc', {
      ipAddresses: ec2.IpAddresses.cidr(config.vpcCidr),
      availabilityZones: this.zones,
      natGateways: managed ? 1 : 0,
      subnetConfiguration: managed
        ? [publicSubnets, { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 }]
        : [publicSubnets],
      gatewayEndpoints: { S3: { service: ec2.GatewayVpcEndpointAwsService.S3 } },
      restrictDefaultSecurityGroup: true,
    });
    this.vpc.addFlowLog('FlowLogs', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogGroup', {
        retention: logs.RetentionDays.ONE_MONTH,
        removalPolicy: RemovalPolicy.DESTROY,
      })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });
  }

  /**
   * The zones named in config. The Vpc checks its zones against the stack's, which for a stack
   * with an account would otherwise be an availability-zones look-up: synth would then need AWS
   * credentials (README, "Quickstart": synth never does).
   */
  public override get availabilityZones(): string[] {
    return this.zones;
  }
}
