import { Stack, StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as route53 from 'aws-cdk-lib/aws-route53';
import * as targets from 'aws-cdk-lib/aws-route53-targets';
import { Construct } from 'constructs';
import { ZmanimConfig } from '../config';
import { importHostedZone } from './certificate-stack';

export interface DnsRecordsStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The site's distribution (Next.js stack). */
  readonly distribution: cloudfront.IDistribution;
}

/**
 * The seed's DNS Records stack: `config.domain` as A and AAAA alias records to the
 * CloudFront distribution (IPv4 and IPv6), in the existing hosted zone (imported by id).
 */
export class DnsRecordsStack extends Stack {
  public readonly aRecord: route53.ARecord;
  public readonly aaaaRecord: route53.AaaaRecord;

  constructor(scope: Construct, id: string, props: DnsRecordsStackProps) {
    super(scope, id, props);
    const { config } = props;
    const zone = importHostedZone(this, config);
    const target = route53.RecordTarget.fromAlias(new targets.CloudFrontTarget(props.distribution));
    const recordName = config.domain === config.hostedZone.zoneName ? undefined : config.domain;
    this.aRecord = new route53.ARecord(this, 'A', { zone, recordName, target, comment: `${config.domain} -> CloudFront (IPv4)` });
    this.aaaaRecord = new route53.AaaaRecord(this, 'Aaaa', { zone, recordName, target, comment: `${config.domain} -> CloudFront (IPv6)` });
  }
}
