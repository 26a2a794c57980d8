import { Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import * as route53 from 'aws-cdk-lib/aws-route53';
import { Construct } from 'constructs';
import { ZmanimConfig } from '../config';

export interface CertificateStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The seed's Certificate stack: CloudFront only accepts certificates from us-east-1. DNS
 * validation in the imported zone lets ACM renew it without anyone's help.
 */
export class CertificateStack extends Stack {
  public readonly certificate: acm.ICertificate;
  public readonly hostedZone: route53.IHostedZone;

  constructor(scope: Construct, id: string, props: CertificateStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.hostedZone = importHostedZone(this, config);
    this.certificate = new acm.Certificate(this, 'Certificate', {
      domainName: config.domain,
      validation: acm.CertificateValidation.fromDns(this.hostedZone),
    });
  }
}

/** The existing zone, by id: no look-up, so synth needs no credentials. */
export function importHostedZone(scope: Construct, config: ZmanimConfig): route53.IHostedZone {
  return route53.HostedZone.fromHostedZoneAttributes(scope, 'HostedZone', {
    hostedZoneId: config.hostedZone.zoneId,
    zoneName: config.hostedZone.zoneName,
  });
}
