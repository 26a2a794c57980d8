import { Duration } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as integrations from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as elbv2 from 'aws-cdk-lib/aws-elasticloadbalancingv2';
import * as servicediscovery from 'aws-cdk-lib/aws-servicediscovery';

/**
 * aws-cdk-lib 2.257's HttpServiceDiscoveryIntegration accepts `timeout` but leaves it out of
 * the integration (API Gateway would use its 30 s default); this passes it through.
 */
export class TimedServiceDiscoveryIntegration extends integrations.HttpServiceDiscoveryIntegration {
  private readonly timeout?: Duration;

  constructor(id: string, service: servicediscovery.IService, props: integrations.HttpServiceDiscoveryIntegrationProps) {
    super(id, service, props);
    this.timeout = props.timeout;
  }

  public bind(options: apigwv2.HttpRouteIntegrationBindOptions): apigwv2.HttpRouteIntegrationConfig {
    return { ...super.bind(options), timeout: this.timeout };
  }
}

/** An ALB integration with the route's timeout (as above). */
export class TimedAlbIntegration extends integrations.HttpAlbIntegration {
  private readonly timeout?: Duration;

  constructor(id: string, listener: elbv2.IApplicationListener, props: integrations.HttpAlbIntegrationProps) {
    super(id, listener, props);
    this.timeout = props.timeout;
  }

  public bind(options: apigwv2.HttpRouteIntegrationBindOptions): apigwv2.HttpRouteIntegrationConfig {
    return { ...super.bind(options), timeout: this.timeout };
  }
}
