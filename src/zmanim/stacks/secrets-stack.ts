import { Stack, StackProps } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { GeneratedSecrets } from '../../constructs/generated-secrets';
import { ZmanimConfig } from '../config';
import { GENERATED_SECRETS } from '../secrets';

export interface SecretsStackProps extends StackProps {
  readonly config: ZmanimConfig;
}

/**
 * The seed's Secrets stack. Generated secrets are created inside AWS on first deploy and
 * retained; third-party secrets are put by an operator (README, "Secrets").
 */
export class SecretsStack extends Stack {
  public readonly secrets: GeneratedSecrets;

  constructor(scope: Construct, id: string, props: SecretsStackProps) {
    super(scope, id, props);
    this.secrets = new GeneratedSecrets(this, 'Generated', {
      parameterPath: props.config.ssmPrefix,
      secretNames: [...GENERATED_SECRETS],
    });
  }
}
