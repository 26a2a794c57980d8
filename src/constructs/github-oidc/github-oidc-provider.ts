import { RemovalPolicy, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { ValidationError } from '../../internal/validation-error';

const GITHUB_OIDC_ISSUER = 'token.actions.githubusercontent.com';
const GITHUB_OIDC_AUDIENCE = 'sts.amazonaws.com';

/**
 * Properties of {@link GitHubOidcProvider}.
 */
export interface GitHubOidcProviderProps {
  /**
   * What happens to the provider when it leaves the stack. An account has one GitHub
   * provider, and roles outside this stack may trust it, so it is kept by default; a
   * later stack then imports it with `GitHubOidcProvider.fromAccount`.
   *
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The IAM OIDC identity provider for GitHub Actions (`token.actions.githubusercontent.com`),
 * with `sts.amazonaws.com` as its only audience.
 *
 * An account can hold only one provider per issuer URL: create it in one stack, and
 * everywhere else (or when the account already has one) import it with
 * {@link GitHubOidcProvider.fromAccount}. No certificate thumbprint is configured: IAM
 * verifies GitHub's tokens against its own trusted certificate authorities.
 *
 * @example
 * const provider = new GitHubOidcProvider(this, 'GitHub').provider;
 * // or, when the account already has one:
 * const existing = GitHubOidcProvider.fromAccount(this, 'GitHub');
 */
export class GitHubOidcProvider extends Construct {
  /** The issuer of GitHub Actions' OIDC tokens (github.com; not GitHub Enterprise Server). */
  public static readonly ISSUER = GITHUB_OIDC_ISSUER;
  /** The audience that aws-actions/configure-aws-credentials requests, and the only one trusted. */
  public static readonly AUDIENCE = GITHUB_OIDC_AUDIENCE;

  /**
   * The account's existing GitHub provider, by its well-known ARN
   * (`arn:PARTITION:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com`).
   */
  public static fromAccount(scope: Construct, id: string): iam.IOidcProvider {
    const stack = Stack.of(scope);
    return iam.OidcProviderNative.fromOidcProviderArn(scope, id,
      `arn:${stack.partition}:iam::${stack.account}:oidc-provider/${GITHUB_OIDC_ISSUER}`);
  }

  /**
   * An existing GitHub provider by ARN (e.g. in another account's stack output).
   *
   * @param providerArn `arn:aws:iam::ACCOUNT:oidc-provider/token.actions.githubusercontent.com`
   */
  public static fromProviderArn(scope: Construct, id: string, providerArn: string): iam.IOidcProvider {
    if (!Token.isUnresolved(providerArn)
      && !/^arn:aws[a-z-]*:iam::\d{12}:oidc-provider\/token\.actions\.githubusercontent\.com$/.test(providerArn)) {
      throw new ValidationError('GitHubOidcProvider', scope, `GitHub OIDC provider ARN "${providerArn}" is not GitHub's provider. `
        + `Expected arn:aws:iam::ACCOUNT:oidc-provider/${GITHUB_OIDC_ISSUER} (IAM > Identity providers).`);
    }
    return iam.OidcProviderNative.fromOidcProviderArn(scope, id, providerArn);
  }

  /** The provider, for {@link GitHubDeployRoleProps.provider}. */
  public readonly provider: iam.IOidcProvider;

  constructor(scope: Construct, id: string, props: GitHubOidcProviderProps = {}) {
    super(scope, id);
    this.provider = new iam.OidcProviderNative(this, 'Resource', {
      url: `https://${GITHUB_OIDC_ISSUER}`,
      clientIds: [GITHUB_OIDC_AUDIENCE],
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
  }

  /** The provider's ARN. */
  public get providerArn(): string {
    return this.provider.oidcProviderArn;
  }
}
