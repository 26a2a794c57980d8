/** A failure the CLI explains: what failed, and what to do about it. */
export class OpsError extends Error {
  constructor(message: string, public readonly hint: string, public readonly exitCode = 1) {
    super(message);
    this.name = 'OpsError';
  }
}

/** Wrong usage (exit code 2). */
export class UsageError extends OpsError {
  constructor(message: string, hint = 'Run `shtetl-ops help` for the commands and their options.') {
    super(message, hint, 2);
    this.name = 'UsageError';
  }
}

/**
 * Turns an AWS SDK error into an OpsError that names the action that failed and the usual
 * fix. `action` is the IAM action (e.g. `ssm:SendCommand`), so a denied operator knows what
 * permission is missing.
 */
export function explainAwsError(error: unknown, action: string, region: string): OpsError {
  if (error instanceof OpsError) return error;
  const e = error as { name?: string; Code?: string; message?: string };
  const name = e?.name ?? e?.Code ?? 'Error';
  const message = e?.message ?? String(error);
  if (name === 'CredentialsProviderError' || /Could not load credentials/i.test(message)) {
    return new OpsError(`No AWS credentials for ${action}.`,
      'Set AWS_PROFILE to an operator profile (and `aws sso login --profile ...`), or export credentials; in a workflow, assume the role with aws-actions/configure-aws-credentials first.');
  }
  if (/ExpiredToken|TokenExpired|RequestExpired/.test(name)) {
    return new OpsError(`The AWS credentials have expired (${action}).`, 'Log in again (`aws sso login`) or re-assume the role, then re-run the command.');
  }
  if (/AccessDenied|UnauthorizedOperation|AuthorizationError|Forbidden|NotAuthorized/i.test(name)) {
    return new OpsError(`Access denied: the credentials in use may not ${action} in ${region} (${message}).`,
      `Use credentials whose policy allows ${action} (the operator role, docs/operations.md, "shtetl-ops, the operations command line"), or check the account and region with \`aws sts get-caller-identity\`.`);
  }
  if (name === 'InvalidInstanceId' || name === 'InvalidInstanceID.NotFound') {
    return new OpsError(`The host is not reachable by Systems Manager (${action}: ${message}).`,
      'The instance is stopped, gone, or its SSM agent is offline. Check it with `shtetl-ops host-status`; if it is impaired, `shtetl-ops replace-instance`.');
  }
  if (name === 'ThrottlingException' || name === 'Throttling' || name === 'TooManyRequestsException') {
    return new OpsError(`AWS throttled ${action}.`, 'Wait a minute and re-run the command.');
  }
  return new OpsError(`${action} failed in ${region}: ${name}: ${message}`, 'Check the message above; re-run with the same arguments once it is fixed.');
}

/** Calls AWS, turning a failure into an explained OpsError. */
export async function aws<T>(action: string, region: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw explainAwsError(error, action, region);
  }
}
