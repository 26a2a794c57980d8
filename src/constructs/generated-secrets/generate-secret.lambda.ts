/**
 * CloudFormation custom resource that creates an SSM SecureString with a random value inside
 * AWS. The value never leaves this function: it is not in the request, the response, the
 * template or the logs. An existing parameter is never overwritten, so redeploying, updating
 * or re-creating the stack keeps the secret that the system already uses.
 */
import { randomBytes } from 'node:crypto';
import { DeleteParameterCommand, ParameterAlreadyExists, ParameterNotFound, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { respondToCloudFormation } from '../../internal/cfn-response';

const ssm = new SSMClient({});

export interface GeneratedSecretProperties {
  readonly ParameterName: string;
  readonly Length: string;
  readonly DeleteOnRemoval?: string;
  readonly Description?: string;
}

/** Random value of `length` URL-safe characters: usable in DATABASE_URL/REDIS_URL without escaping. */
export function generateValue(length: number): string {
  return randomBytes(Math.ceil((length * 3) / 4) + 3).toString('base64url').slice(0, length);
}

export async function onEvent(event: CloudFormationCustomResourceEvent): Promise<{ physicalId: string; created: boolean }> {
  const props = event.ResourceProperties as unknown as GeneratedSecretProperties;
  const name = props.ParameterName;
  const length = Number(props.Length);
  if (!name?.startsWith('/') || !Number.isInteger(length) || length < 16 || length > 1024) {
    throw new Error(`Invalid properties: ParameterName must be an absolute SSM path and Length 16-1024 (got ${JSON.stringify(name)}, ${JSON.stringify(props.Length)})`);
  }

  if (event.RequestType === 'Delete') {
    if (props.DeleteOnRemoval === 'true' && event.PhysicalResourceId === name) {
      try {
        await ssm.send(new DeleteParameterCommand({ Name: name }));
      } catch (e) {
        if (!(e instanceof ParameterNotFound)) throw e;
      }
    }
    return { physicalId: event.PhysicalResourceId, created: false };
  }

  try {
    await ssm.send(new PutParameterCommand({
      Name: name,
      Type: 'SecureString',
      Value: generateValue(length),
      Overwrite: false,
      Description: props.Description ?? 'Generated on first deploy; never overwritten by CloudFormation',
    }));
    return { physicalId: name, created: true };
  } catch (e) {
    // An operator's or an earlier deployment's value wins: never replace a secret in use.
    if (e instanceof ParameterAlreadyExists) return { physicalId: name, created: false };
    throw e;
  }
}

export async function handler(event: CloudFormationCustomResourceEvent, context: Context): Promise<void> {
  const failedId = event.RequestType === 'Create' ? `failed-${event.RequestId}` : event.PhysicalResourceId;
  await respondToCloudFormation(event, context, async () => {
    const { physicalId, created } = await onEvent(event);
    return { physicalResourceId: physicalId, data: { ParameterName: physicalId }, logFields: { created } };
  }, failedId);
}
