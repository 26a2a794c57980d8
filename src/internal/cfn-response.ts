import type { CloudFormationCustomResourceEvent, CloudFormationCustomResourceResponse, Context } from 'aws-lambda';

/** What a custom resource handler reports to CloudFormation on success. */
export interface CustomResourceResult {
  readonly physicalResourceId: string;
  /** Attributes for Fn::GetAtt. Never a secret: CloudFormation shows them in events and outputs. */
  readonly data?: Record<string, string>;
  /** Extra fields for the one log line of this request. Never a secret either. */
  readonly logFields?: Record<string, unknown>;
}

/**
 * Runs `work` for a Lambda-backed custom resource and reports the outcome to CloudFormation
 * through the pre-signed ResponseURL, so no provider framework (and no second Lambda) is
 * needed. A failure is reported as FAILED with its reason and log stream, which stops the
 * deployment with a message an operator can act on.
 */
export async function respondToCloudFormation(
  event: CloudFormationCustomResourceEvent,
  context: Context,
  work: () => Promise<CustomResourceResult>,
  physicalResourceIdOnFailure: string,
): Promise<void> {
  const base = { StackId: event.StackId, RequestId: event.RequestId, LogicalResourceId: event.LogicalResourceId };
  let response: CloudFormationCustomResourceResponse;
  try {
    const result = await work();
    console.log(JSON.stringify({ requestType: event.RequestType, physicalResourceId: result.physicalResourceId, ...result.logFields }));
    response = { ...base, Status: 'SUCCESS', PhysicalResourceId: result.physicalResourceId, Data: result.data ?? {} };
  } catch (e) {
    const reason = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
    console.error(JSON.stringify({ requestType: event.RequestType, error: reason }));
    response = { ...base, Status: 'FAILED', Reason: `${reason} (log stream ${context.logStreamName})`, PhysicalResourceId: physicalResourceIdOnFailure };
  }
  const body = JSON.stringify(response);
  const put = await fetch(event.ResponseURL, {
    method: 'PUT',
    body,
    headers: { 'content-type': '', 'content-length': String(Buffer.byteLength(body)) },
  });
  if (!put.ok) throw new Error(`CloudFormation response upload failed: HTTP ${put.status}`);
}
