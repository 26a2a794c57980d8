import { CfnOutput, Stack, StackProps } from 'aws-cdk-lib';
import * as acm from 'aws-cdk-lib/aws-certificatemanager';
import { Construct } from 'constructs';
import { OpenNextSite } from '../../constructs/open-next-site';
import { OriginVerifiedHttpApi } from '../../constructs/origin-verified-http-api';
import { ZmanimConfig } from '../config';

export interface NextjsStackProps extends StackProps {
  readonly config: ZmanimConfig;
  /** The `.open-next` folder to deploy (already built; see `ensureFixtureSite`). */
  readonly openNextPath: string;
  /** The us-east-1 certificate for `config.domain` (Certificate stack, cross-region reference). */
  readonly certificate: acm.ICertificate;
  /** The API routed under `/backend/*` (API stack); without it the site has no API route. */
  readonly api?: OriginVerifiedHttpApi;
}

/**
 * The seed's Next.js stack: the zmanim web app (OpenNext build) behind CloudFront at the
 * domain, with `/backend/*` routed to the origin-verified HTTP API. The Clerk secret key is
 * read from SSM by the server function at cold start, never put into its environment.
 */
export class NextjsStack extends Stack {
  public readonly site: OpenNextSite;

  constructor(scope: Construct, id: string, props: NextjsStackProps) {
    super(scope, id, props);
    const { config } = props;
    this.site = new OpenNextSite(this, 'Site', {
      openNextPath: props.openNextPath,
      domainNames: [config.domain],
      certificate: props.certificate,
      secretParameters: { CLERK_SECRET_KEY: `${config.ssmPrefix}/clerk-secret-key` },
      warmerConcurrency: config.site.warmerConcurrency,
    });
    if (props.api) {
      // The API's behaviour adds the rotating origin-verify header (CloudFront Function + KVS).
      const { origin, ...options } = props.api.cloudFrontBehavior();
      this.site.addBehavior('/backend/*', origin, options);
    }
    new CfnOutput(this, 'DistributionId', { value: this.site.distribution.distributionId, description: 'CloudFront distribution of the site' });
    new CfnOutput(this, 'DistributionDomainName', { value: this.site.distribution.distributionDomainName, description: 'Target of the DNS aliases' });
    new CfnOutput(this, 'BuildId', { value: this.site.buildId, description: 'Next.js build id deployed' });
  }
}
