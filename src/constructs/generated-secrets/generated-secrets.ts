import { CustomResource, Duration, RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { GenerateSecretFunction } from './generate-secret-function';
import { functionLogging } from '../../internal/function-logging';
import { failer, ValidationError } from '../../internal/validation-error';

/**
 * Properties of {@link GeneratedSecrets}.
 */
export interface GeneratedSecretsProps {
  /**
   * SSM Parameter Store path under which the secrets live, without a trailing slash.
   *
   * @example '/kehilla/prod'
   */
  readonly parameterPath: string;

  /**
   * Names of the secrets to generate, relative to `parameterPath`
   * (`postgres-password` becomes `/kehilla/prod/postgres-password`).
   */
  readonly secretNames: string[];

  /**
   * Length of each generated value, in URL-safe base64 characters (`A-Z a-z 0-9 - _`),
   * so values can be embedded in connection URLs without escaping.
   *
   * @default 48 (288 bits)
   */
  readonly length?: number;

  /**
   * What happens to the parameters when they leave the stack. Secrets are RETAINed by
   * default: deleting one would lock the system out of its own database and backups.
   * `RemovalPolicy.DESTROY` deletes them (for test stacks).
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * SSM SecureString parameters whose random values are generated inside AWS on first deploy.
 *
 * CloudFormation cannot create SecureString parameters, and a value generated at synth time
 * would land in the template. A custom resource creates each parameter with a value it
 * draws itself; the value is never in the template, `cdk.out`, a CloudFormation parameter,
 * the custom resource's response or a log. A parameter that already exists is never
 * overwritten, so an operator's value or an earlier deployment's value stays in use.
 * Values are encrypted with the account's `aws/ssm` key: readers decrypt through SSM only.
 *
 * @example
 * const secrets = new GeneratedSecrets(this, 'Secrets', {
 *   parameterPath: '/kehilla/prod',
 *   secretNames: ['postgres-password', 'redis-password'],
 * });
 * secrets.grantRead(hostRole);
 */
export class GeneratedSecrets extends Construct {
  /** The SSM path that holds the parameters. */
  public readonly parameterPath: string;

  private readonly names: string[];

  constructor(scope: Construct, id: string, props: GeneratedSecretsProps) {
    super(scope, id);
    const length = props.length ?? 48;
    validate(this, props, length);
    this.parameterPath = props.parameterPath;
    this.names = [...props.secretNames];
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const generator = this.generatorFunction();
    generator.addToRolePolicy(new iam.PolicyStatement({
      actions: removalPolicy === RemovalPolicy.DESTROY ? ['ssm:PutParameter', 'ssm:DeleteParameter'] : ['ssm:PutParameter'],
      resources: this.names.map((name) => this.parameterArn(name)),
    }));

    for (const name of this.names) {
      const resource = new CustomResource(this, `Secret-${name}`, {
        serviceToken: generator.functionArn,
        resourceType: 'Custom::GeneratedSecureParameter',
        properties: {
          ParameterName: this.parameterName(name),
          Length: String(length),
          DeleteOnRemoval: String(removalPolicy === RemovalPolicy.DESTROY),
        },
        // The custom resource itself always reports deletion; DeleteOnRemoval decides
        // whether the parameter goes with it.
        removalPolicy: RemovalPolicy.DESTROY,
      });
      resource.node.addDependency(generator);
    }
  }

  /** The full SSM parameter name of a secret generated here. */
  public parameterName(secretName: string): string {
    this.assertKnown(secretName);
    return `${this.parameterPath}/${secretName}`;
  }

  /** The ARN of a secret's SSM parameter. */
  public parameterArn(secretName: string): string {
    return Stack.of(this).formatArn({ service: 'ssm', resource: 'parameter', resourceName: this.parameterName(secretName).slice(1) });
  }

  /**
   * Grants reading (and, through SSM only, decrypting) the given secrets, or all of them.
   */
  public grantRead(grantee: iam.IGrantable, ...secretNames: string[]): iam.Grant {
    const names = secretNames.length > 0 ? secretNames : this.names;
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['ssm:GetParameter', 'ssm:GetParameters'],
      resourceArns: names.map((name) => this.parameterArn(name)),
    });
  }

  private assertKnown(secretName: string) {
    if (!this.names.includes(secretName)) {
      throw new ValidationError('GeneratedSecrets', this, `no secret named "${secretName}"; this construct generates ${this.names.join(', ')}.`);
    }
  }

  /** One generator function per stack, shared by every GeneratedSecrets in it. */
  private generatorFunction(): lambda.IFunction {
    const stack = Stack.of(this);
    const id = 'ShtetlGeneratedSecretsFunction';
    const existing = stack.node.tryFindChild(id) as lambda.Function | undefined;
    if (existing) return existing;
    const { role, logGroup } = functionLogging(stack, id);
    const fn = new GenerateSecretFunction(stack, id, {
      role,
      logGroup,
      description: 'Creates generated SecureString parameters without overwriting existing ones',
      architecture: lambda.Architecture.ARM_64,
      memorySize: 256,
      timeout: Duration.minutes(1),
    });
    return fn;
  }
}

function validate(scope: Construct, props: GeneratedSecretsProps, length: number) {
  const fail = failer('GeneratedSecrets', scope);
  if (!Token.isUnresolved(props.parameterPath) && !/^(\/[a-zA-Z0-9_.-]+)+$/.test(props.parameterPath)) {
    fail(`parameterPath must be an absolute SSM path without a trailing slash (got "${props.parameterPath}"). Use e.g. "/<service>/<env>".`);
  }
  if (props.secretNames.length === 0) {
    fail('secretNames is empty; give at least one name, e.g. ["postgres-password"].');
  }
  for (const name of props.secretNames) {
    if (!/^[a-zA-Z0-9_.-]+$/.test(name)) {
      fail(`secret name "${name}" must be one path segment of letters, digits, "_", "." or "-" (no "/").`);
    }
  }
  const dupes = props.secretNames.filter((n, i) => props.secretNames.indexOf(n) !== i);
  if (dupes.length > 0) {
    fail(`secret names must be unique; "${dupes[0]}" is given twice.`);
  }
  if (!Number.isInteger(length) || length < 16 || length > 1024) {
    fail(`length must be a whole number from 16 to 1024 (got ${length}). The default, 48, gives 288 bits.`);
  }
}
