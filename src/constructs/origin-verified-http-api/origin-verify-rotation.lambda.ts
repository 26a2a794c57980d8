/**
 * Secrets Manager rotation function of the origin-verify secret. The order makes rotation
 * invisible to viewers:
 *
 * 1. createSecret: Secrets Manager draws a new random value as AWSPENDING. From here the
 *    authorizer accepts it (it accepts AWSCURRENT, AWSPENDING and, for a grace period,
 *    AWSPREVIOUS), while CloudFront still sends the current value.
 * 2. setSecret / testSecret: nothing to configure; the pending value is checked for shape.
 * 3. finishSecret: wait until the authorizer's cache TTL has passed since the pending value
 *    was created (every authorizer instance knows it by then), write it to the CloudFront
 *    KeyValueStore (CloudFront sends it within seconds), mirror it to the host's SSM parameter and run the host's refresh
 *    commands, and only then promote it to AWSCURRENT (the old value becomes AWSPREVIOUS and
 *    is dropped by the authorizer after the grace period). Every write is idempotent, so a
 *    retried step converges; a failure before promotion leaves the old value valid.
 *
 * The value never appears in a log, an error message or a command (the host reads it from
 * SSM itself).
 */
import { CloudFrontKeyValueStoreClient, DescribeKeyValueStoreCommand, GetKeyCommand, PutKeyCommand, ResourceNotFoundException as KvsNotFound } from '@aws-sdk/client-cloudfront-keyvaluestore';
import {
  DescribeSecretCommand, GetRandomPasswordCommand, GetSecretValueCommand, PutSecretValueCommand, ResourceNotFoundException,
  SecretsManagerClient, UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCommandInvocationCommand, InvocationDoesNotExist, PutParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SecretsManagerRotationEvent } from 'aws-lambda';

/**
 * The KeyValueStore API is signed with SigV4A only. The SDK finds no SigV4A implementation
 * unless one is registered, and `@aws-sdk/*` stays external to the bundle (the Lambda
 * runtime provides it), so registering into the runtime's copy from the bundle is not
 * possible: the bundled pure-JavaScript signer (`@smithy/signature-v4a`, no native binary)
 * is handed to the client instead. Loaded inside try so that a build without the package
 * still bundles; the store write then fails loudly, and a test fails until it is installed.
 */
export function sigV4aSignerConstructor(): any {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return require('@smithy/signature-v4a').SignatureV4a;
  } catch {
    return undefined;
  }
}

/** The KeyValueStore client, signing with the bundled SigV4A signer. */
export function keyValueStoreClient(config: { region?: string; credentials?: any; requestHandler?: any } = {}): CloudFrontKeyValueStoreClient {
  const signerConstructor = sigV4aSignerConstructor();
  return new CloudFrontKeyValueStoreClient({ ...config, ...(signerConstructor ? { signerConstructor } : {}) });
}

const secrets = new SecretsManagerClient({});
const ssm = new SSMClient({});
const kvs = keyValueStoreClient();

/** Lowest length the rotation accepts for a value (the generator draws VALUE_LENGTH). */
const MIN_LENGTH = 32;
const VALUE_LENGTH = 64;

export interface RotationSettings {
  readonly kvsArn?: string;
  readonly kvsKey: string;
  readonly hostParameterName?: string;
  readonly hostInstanceId?: string;
  /** The host's parameterless refresh document (GravitonDataHost.refreshApiCommand): no shell is sent. */
  readonly hostRefreshDocument?: string;
  readonly commandTimeoutMs: number;
  readonly pollIntervalMs: number;
  /** How long after the pending value was created CloudFront may start sending it. */
  readonly acceptDelayMs: number;
}

export function rotationSettings(env: NodeJS.ProcessEnv = process.env): RotationSettings {
  return {
    kvsArn: env.KVS_ARN || undefined,
    kvsKey: env.KVS_ENTRY || 'origin-verify',
    hostParameterName: env.HOST_PARAMETER_NAME || undefined,
    hostInstanceId: env.HOST_INSTANCE_ID || undefined,
    hostRefreshDocument: env.HOST_REFRESH_DOCUMENT || undefined,
    commandTimeoutMs: Number(env.COMMAND_TIMEOUT_SECONDS ?? '180') * 1000,
    pollIntervalMs: Number(env.POLL_INTERVAL_MS ?? '3000'),
    acceptDelayMs: Number(env.ACCEPT_DELAY_SECONDS ?? '330') * 1000,
  };
}

export async function handler(event: SecretsManagerRotationEvent): Promise<void> {
  const { SecretId: secretId, ClientRequestToken: token, Step: step } = event;
  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  if (described.RotationEnabled === false) throw new Error(`Secret ${secretId} does not have rotation enabled`);
  const stages = described.VersionIdsToStages?.[token];
  if (!stages) throw new Error(`Version ${token} of ${secretId} has no stage; it is not being rotated`);
  if (stages.includes('AWSCURRENT')) {
    log(step, 'version is already AWSCURRENT; nothing to do', secretId);
    return;
  }
  if (!stages.includes('AWSPENDING')) throw new Error(`Version ${token} of ${secretId} is not AWSPENDING`);

  const s = rotationSettings();
  switch (step) {
    case 'createSecret': return createSecret(secretId, token);
    case 'setSecret': return log(step, 'nothing to set: the authorizer reads AWSPENDING itself', secretId);
    case 'testSecret': return testSecret(secretId, token);
    case 'finishSecret': return finishSecret(secretId, token, s);
    default: throw new Error(`Unknown rotation step ${JSON.stringify(step)}`);
  }
}

async function createSecret(secretId: string, token: string) {
  // A value must exist to rotate from (CloudFormation generated it inside AWS).
  await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionStage: 'AWSCURRENT' }));
  try {
    await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }));
    log('createSecret', 'pending value already exists', secretId);
    return;
  } catch (e) {
    if (!(e instanceof ResourceNotFoundException)) throw e;
  }
  const random = await secrets.send(new GetRandomPasswordCommand({
    PasswordLength: VALUE_LENGTH,
    ExcludePunctuation: true,
    IncludeSpace: false,
  }));
  await secrets.send(new PutSecretValueCommand({
    SecretId: secretId,
    ClientRequestToken: token,
    SecretString: random.RandomPassword,
    VersionStages: ['AWSPENDING'],
  }));
  log('createSecret', 'pending value created', secretId);
}

async function pendingVersion(secretId: string, token: string): Promise<{ value: string; created?: Date }> {
  const out = await secrets.send(new GetSecretValueCommand({ SecretId: secretId, VersionId: token, VersionStage: 'AWSPENDING' }));
  const value = out.SecretString ?? '';
  if (value.length < MIN_LENGTH || !/^[A-Za-z0-9]+$/.test(value)) {
    // Header-safe and long enough; never print the value itself.
    throw new Error(`Pending value of ${secretId} must be at least ${MIN_LENGTH} letters and digits (got ${value.length} characters)`);
  }
  return { value, created: out.CreatedDate };
}

async function testSecret(secretId: string, token: string) {
  await pendingVersion(secretId, token);
  log('testSecret', 'pending value is well-formed', secretId);
}

async function finishSecret(secretId: string, token: string, s: RotationSettings) {
  const { value, created } = await pendingVersion(secretId, token);
  if (s.kvsArn) await writeKeyValueStore(s.kvsArn, s.kvsKey, value, () => waitUntilKnown(created, s, secretId));
  if (s.hostParameterName) {
    await ssm.send(new PutParameterCommand({ Name: s.hostParameterName, Value: value, Type: 'SecureString', Overwrite: true }));
    log('finishSecret', `host parameter ${s.hostParameterName} updated`, secretId);
  }
  if (s.hostInstanceId && s.hostRefreshDocument) {
    await runOnHost(s.hostInstanceId, s.hostRefreshDocument, s, secretId);
  }

  const described = await secrets.send(new DescribeSecretCommand({ SecretId: secretId }));
  const currentVersion = Object.entries(described.VersionIdsToStages ?? {})
    .find(([, versionStages]) => versionStages.includes('AWSCURRENT'))?.[0];
  if (currentVersion === token) return;
  await secrets.send(new UpdateSecretVersionStageCommand({
    SecretId: secretId,
    VersionStage: 'AWSCURRENT',
    MoveToVersionId: token,
    RemoveFromVersionId: currentVersion,
  }));
  log('finishSecret', `version ${token} is AWSCURRENT`, secretId);
}

async function writeKeyValueStore(kvsArn: string, key: string, value: string, beforeWrite: () => Promise<void>) {
  try {
    const existing = await kvs.send(new GetKeyCommand({ KvsARN: kvsArn, Key: key }));
    if (existing.Value === value) return;
  } catch (e) {
    if (!(e instanceof KvsNotFound)) throw e;
  }
  await beforeWrite();
  // Writes are conditional on the store's ETag (optimistic locking).
  const { ETag } = await kvs.send(new DescribeKeyValueStoreCommand({ KvsARN: kvsArn }));
  await kvs.send(new PutKeyCommand({ KvsARN: kvsArn, Key: key, Value: value, IfMatch: ETag }));
  log('finishSecret', `key value store key ${key} updated`, kvsArn);
}

/**
 * Waits until every authorizer instance has re-read the secret since the pending value was
 * created (its cache TTL), so none can deny, and API Gateway cache that denial, when
 * CloudFront starts sending the new value.
 */
async function waitUntilKnown(created: Date | undefined, s: RotationSettings, secretId: string) {
  const waitMs = (created ? created.getTime() : Date.now()) + s.acceptDelayMs - Date.now();
  if (waitMs <= 0) return;
  log('finishSecret', `waiting ${Math.ceil(waitMs / 1000)} s until every authorizer knows the new value`, secretId);
  await sleep(waitMs);
}

const TERMINAL = new Set(['Success', 'Cancelled', 'TimedOut', 'Failed', 'Cancelling']);

async function runOnHost(instanceId: string, documentName: string, s: RotationSettings, secretId: string) {
  const sent = await ssm.send(new SendCommandCommand({
    InstanceIds: [instanceId],
    DocumentName: documentName,
    Comment: 'origin-verify rotation: reload the origin verify key',
    TimeoutSeconds: Math.max(30, Math.ceil(s.commandTimeoutMs / 1000)),
  }));
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new Error('SendCommand returned no command id');
  const deadline = Date.now() + s.commandTimeoutMs;
  for (;;) {
    await sleep(s.pollIntervalMs);
    let status: string | undefined;
    try {
      const inv = await ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
      status = inv.Status;
    } catch (e) {
      // The invocation is not visible for a moment after SendCommand.
      if (!(e instanceof InvocationDoesNotExist)) throw e;
    }
    if (status === 'Success') {
      log('finishSecret', `host refresh command ${commandId} succeeded`, secretId);
      return;
    }
    if (status && TERMINAL.has(status)) {
      throw new Error(`Host refresh command ${commandId} on ${instanceId} ended ${status}; see its output in SSM Run Command`);
    }
    if (Date.now() > deadline) {
      throw new Error(`Host refresh command ${commandId} on ${instanceId} did not finish within ${s.commandTimeoutMs / 1000} s (last status ${status ?? 'unknown'})`);
    }
  }
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

function log(step: string, message: string, resource: string) {
  console.log(JSON.stringify({ step, message, resource }));
}
