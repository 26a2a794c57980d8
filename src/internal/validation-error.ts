import { IConstruct } from 'constructs';

/**
 * The one error the library's constructs throw for invalid props or calls, like aws-cdk-lib's
 * `ValidationError`: the message starts with the construct's type and path, so a user with
 * many hosts or APIs knows which one is wrong, then says what was wrong, the value, and the fix.
 *
 *   `GravitonDataHost Prod/Host: apiPort 80 must be an unprivileged port (1024-65535) ...`
 *
 * Static factories that have no construct yet (`GitHubRepository.fromName`) give no scope:
 * `GitHubRepository: ...`.
 */
export class ValidationError extends Error {
  /** The path of the construct whose props or call were invalid (undefined without a scope). */
  public readonly constructPath?: string;

  constructor(constructType: string, scope: IConstruct | undefined, message: string) {
    super(`${constructType}${scope ? ` ${scope.node.path}` : ''}: ${message}`);
    this.name = 'ValidationError';
    this.constructPath = scope?.node.path;
  }
}

/** A `fail(message)` for one construct: throws its {@link ValidationError}. */
export function failer(constructType: string, scope: IConstruct | undefined): (message: string) => never {
  return (message: string): never => {
    throw new ValidationError(constructType, scope, message);
  };
}
