import { CfnResource } from 'aws-cdk-lib';
import { IConstruct } from 'constructs';

/** One cdk-nag rule a construct deliberately does not follow, and why. */
export interface NagSuppression {
  readonly id: string;
  readonly reason: string;
  readonly appliesTo?: string[];
}

/**
 * Records a cdk-nag suppression on the CloudFormation resource under `construct`, in the
 * metadata format cdk-nag reads (the library does not depend on cdk-nag). Used only for
 * choices the construct makes on purpose, so consumers running cdk-nag see a clean stack
 * and the reason in the template.
 */
export function suppressNag(construct: IConstruct, suppressions: NagSuppression[]): void {
  const resource = construct instanceof CfnResource ? construct : construct.node.defaultChild;
  if (!(resource instanceof CfnResource)) {
    throw new Error(`suppressNag: ${construct.node.path} has no CloudFormation resource to annotate`);
  }
  const existing = (resource.getMetadata('cdk_nag') as { rules_to_suppress?: NagSuppression[] } | undefined)?.rules_to_suppress ?? [];
  resource.addMetadata('cdk_nag', { rules_to_suppress: [...existing, ...suppressions] });
}
