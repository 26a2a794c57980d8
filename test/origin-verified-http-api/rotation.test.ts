import * as crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  CloudFrontKeyValueStoreClient, DescribeKeyValueStoreCommand, GetKeyCommand, PutKeyCommand, ResourceNotFoundException as KvsNotFound,
} from '@aws-sdk/client-cloudfront-keyvaluestore';
import {
  DescribeSecretCommand, GetRandomPasswordCommand, GetSecretValueCommand, PutSecretValueCommand, ResourceNotFoundException,
  SecretsManagerClient, UpdateSecretVersionStageCommand,
} from '@aws-sdk/client-secrets-manager';
import { GetCommandInvocationCommand, InvocationDoesNotExist, PutParameterCommand, SendCommandCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { SecretsManagerRotationEvent } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { handler, keyValueStoreClient, sigV4aSignerConstructor } from '../../src/constructs/origin-verified-http-api/origin-verify-rotation.lambda';

const sm = mockClient(SecretsManagerClient);
const ssm = mockClient(SSMClient);
const kvs = mockClient(CloudFrontKeyValueStoreClient);

const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:origin-verify-AbCdEf';
const KVS = 'arn:aws:cloudfront::123456789012:key-value-store/2b3c4d5e-0000-4000-8000-000000000001';
const TOKEN = 'c0ffee00-0000-4000-8000-000000000002';
const OLD_VERSION = 'c0ffee00-0000-4000-8000-000000000001';
const random = () => crypto.randomBytes(64).toString('hex').slice(0, 64);
let NEW_VALUE: string;
let OLD_VALUE: string;
let order: string[];
let logs: string[];

const event = (Step: string, token = TOKEN) => ({ SecretId: SECRET, ClientRequestToken: token, Step }) as SecretsManagerRotationEvent;
const notFound = () => new ResourceNotFoundException({ message: "Secrets Manager can't find the specified secret value", $metadata: {} });

/** A secret with OLD_VERSION current and TOKEN pending (or `stages` for TOKEN). */
function secretState(stages: string[] = ['AWSPENDING'], pendingValue?: string) {
  sm.on(DescribeSecretCommand).resolves({
    RotationEnabled: true,
    VersionIdsToStages: { [OLD_VERSION]: ['AWSCURRENT'], [TOKEN]: stages },
  });
  sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).resolves({ SecretString: OLD_VALUE, VersionId: OLD_VERSION });
  if (pendingValue === undefined) sm.on(GetSecretValueCommand, { VersionId: TOKEN, VersionStage: 'AWSPENDING' }).rejects(notFound());
  else sm.on(GetSecretValueCommand, { VersionId: TOKEN, VersionStage: 'AWSPENDING' }).resolves({ SecretString: pendingValue, VersionId: TOKEN });
}

function track<T>(name: string, value: T) {
  return () => {
    order.push(name);
    return value;
  };
}

beforeEach(() => {
  sm.reset();
  ssm.reset();
  kvs.reset();
  NEW_VALUE = random();
  OLD_VALUE = random();
  order = [];
  logs = [];
  jest.spyOn(console, 'log').mockImplementation((...args) => void logs.push(args.join(' ')));
  process.env.KVS_ARN = KVS;
  process.env.KVS_ENTRY = 'origin-verify';
  process.env.HOST_PARAMETER_NAME = '/kehilla/prod/origin-verify-key';
  process.env.HOST_INSTANCE_ID = 'i-0123456789abcdef0';
  process.env.HOST_REFRESH_DOCUMENT = 'kehilla-Host-refresh-api';
  process.env.POLL_INTERVAL_MS = '1';
  process.env.COMMAND_TIMEOUT_SECONDS = '2';
  process.env.ACCEPT_DELAY_SECONDS = '0';
});
afterEach(() => {
  jest.restoreAllMocks();
  for (const line of logs) {
    expect(line).not.toContain(NEW_VALUE);
    expect(line).not.toContain(OLD_VALUE);
  }
});

describe('createSecret', () => {
  test('draws a new letters-and-digits value inside AWS as AWSPENDING', async () => {
    secretState();
    sm.on(GetRandomPasswordCommand).resolves({ RandomPassword: NEW_VALUE });
    sm.on(PutSecretValueCommand).resolves({});
    await handler(event('createSecret'));
    expect(sm.commandCalls(GetRandomPasswordCommand)[0].args[0].input).toEqual({ PasswordLength: 64, ExcludePunctuation: true, IncludeSpace: false });
    expect(sm.commandCalls(PutSecretValueCommand)[0].args[0].input).toEqual({
      SecretId: SECRET, ClientRequestToken: TOKEN, SecretString: NEW_VALUE, VersionStages: ['AWSPENDING'],
    });
  });

  test('is idempotent: an existing pending value is kept', async () => {
    secretState(['AWSPENDING'], NEW_VALUE);
    await handler(event('createSecret'));
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
    expect(sm.commandCalls(GetRandomPasswordCommand)).toHaveLength(0);
  });

  test('fails when the secret has no current value to rotate from', async () => {
    secretState();
    sm.on(GetSecretValueCommand, { VersionStage: 'AWSCURRENT' }).rejects(notFound());
    await expect(handler(event('createSecret'))).rejects.toThrow(/can't find/);
    expect(sm.commandCalls(PutSecretValueCommand)).toHaveLength(0);
  });
});

describe('setSecret and testSecret', () => {
  test('setSecret changes nothing (the authorizer reads AWSPENDING itself)', async () => {
    secretState(['AWSPENDING'], NEW_VALUE);
    await handler(event('setSecret'));
    expect(kvs.calls()).toHaveLength(0);
    expect(ssm.calls()).toHaveLength(0);
  });

  test('testSecret accepts a well-formed pending value and rejects a short or header-unsafe one without printing it', async () => {
    secretState(['AWSPENDING'], NEW_VALUE);
    await handler(event('testSecret'));
    const bad = 'short-value-with-dashes';
    secretState(['AWSPENDING'], bad);
    const error = await handler(event('testSecret')).catch((e: Error) => e);
    expect(String(error)).toMatch(/must be at least 32 letters and digits \(got 23 characters\)/);
    expect(String(error)).not.toContain(bad);
  });
});

describe('finishSecret', () => {
  function happyPath() {
    secretState(['AWSPENDING'], NEW_VALUE);
    kvs.on(GetKeyCommand).callsFake(() => {
      order.push('kvs:GetKey');
      throw new KvsNotFound({ message: 'key not found', $metadata: {} });
    });
    kvs.on(DescribeKeyValueStoreCommand).callsFake(track('kvs:Describe', { ETag: 'etag-1', KvsARN: KVS }));
    kvs.on(PutKeyCommand).callsFake(track('kvs:PutKey', { ETag: 'etag-2' }));
    ssm.on(PutParameterCommand).callsFake(track('ssm:PutParameter', { Version: 2 }));
    ssm.on(SendCommandCommand).callsFake(track('ssm:SendCommand', { Command: { CommandId: 'cmd-1' } }));
    let polls = 0;
    ssm.on(GetCommandInvocationCommand).callsFake(() => {
      order.push('ssm:GetCommandInvocation');
      polls += 1;
      if (polls === 1) throw new InvocationDoesNotExist({ message: 'not yet', $metadata: {} });
      return { Status: polls < 3 ? 'InProgress' : 'Success' };
    });
    sm.on(UpdateSecretVersionStageCommand).callsFake(track('sm:Promote', {}));
  }

  test('writes CloudFront, then the host, and promotes last', async () => {
    happyPath();
    await handler(event('finishSecret'));
    expect(order).toEqual([
      'kvs:GetKey', 'kvs:Describe', 'kvs:PutKey',
      'ssm:PutParameter', 'ssm:SendCommand', 'ssm:GetCommandInvocation', 'ssm:GetCommandInvocation', 'ssm:GetCommandInvocation',
      'sm:Promote',
    ]);
    expect(kvs.commandCalls(PutKeyCommand)[0].args[0].input).toEqual({ KvsARN: KVS, Key: 'origin-verify', Value: NEW_VALUE, IfMatch: 'etag-1' });
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input).toEqual({
      Name: '/kehilla/prod/origin-verify-key', Value: NEW_VALUE, Type: 'SecureString', Overwrite: true,
    });
    const command = ssm.commandCalls(SendCommandCommand)[0].args[0].input;
    expect(command).toMatchObject({ InstanceIds: ['i-0123456789abcdef0'], DocumentName: 'kehilla-Host-refresh-api' });
    // A parameterless document: the rotation sends no shell.
    expect(command.Parameters).toBeUndefined();
    expect(JSON.stringify(command)).not.toContain(NEW_VALUE); // the host reads the value from SSM itself
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)[0].args[0].input).toEqual({
      SecretId: SECRET, VersionStage: 'AWSCURRENT', MoveToVersionId: TOKEN, RemoveFromVersionId: OLD_VERSION,
    });
  });

  test('waits one authorizer cache TTL after the pending value was created before CloudFront gets it', async () => {
    happyPath();
    process.env.ACCEPT_DELAY_SECONDS = '0.4';
    sm.on(GetSecretValueCommand, { VersionId: TOKEN, VersionStage: 'AWSPENDING' }).resolves({ SecretString: NEW_VALUE, VersionId: TOKEN, CreatedDate: new Date() });
    const started = Date.now();
    kvs.on(PutKeyCommand).callsFake(() => {
      order.push(`kvs:PutKey after ${Date.now() - started >= 350 ? 'the wait' : 'no wait'}`);
      return { ETag: 'etag-2' };
    });
    await handler(event('finishSecret'));
    expect(order).toContain('kvs:PutKey after the wait');
    expect(logs.join('\n')).toMatch(/waiting 1 s until every authorizer knows the new value/);
  });

  test('a pending value created long enough ago is written at once', async () => {
    happyPath();
    process.env.ACCEPT_DELAY_SECONDS = '330';
    sm.on(GetSecretValueCommand, { VersionId: TOKEN, VersionStage: 'AWSPENDING' })
      .resolves({ SecretString: NEW_VALUE, VersionId: TOKEN, CreatedDate: new Date(Date.now() - 331_000) });
    await handler(event('finishSecret'));
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(1);
    expect(logs.join('\n')).not.toMatch(/waiting/);
  });

  test('a retry after CloudFront already has the value does not write the store again', async () => {
    happyPath();
    kvs.on(GetKeyCommand).resolves({ Key: 'origin-verify', Value: NEW_VALUE });
    process.env.ACCEPT_DELAY_SECONDS = '3600'; // no waiting when CloudFront already has it
    await handler(event('finishSecret'));
    expect(kvs.commandCalls(PutKeyCommand)).toHaveLength(0);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(1);
  });

  test('a failing host refresh fails the step and does not promote (the old value stays current)', async () => {
    happyPath();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'Failed' });
    await expect(handler(event('finishSecret'))).rejects.toThrow(/Host refresh command cmd-1 on i-0123456789abcdef0 ended Failed/);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  test('a host refresh that never finishes times out and does not promote', async () => {
    happyPath();
    ssm.on(GetCommandInvocationCommand).resolves({ Status: 'InProgress' });
    await expect(handler(event('finishSecret'))).rejects.toThrow(/did not finish within 2 s \(last status InProgress\)/);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  test('a failing store write fails the step before the host or promotion', async () => {
    happyPath();
    kvs.on(PutKeyCommand).rejects(Object.assign(new Error('Precondition failed'), { name: 'ConflictException' }));
    await expect(handler(event('finishSecret'))).rejects.toThrow(/Precondition failed/);
    expect(ssm.calls()).toHaveLength(0);
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
  });

  test('without a host: only CloudFront, then promotion', async () => {
    happyPath();
    delete process.env.HOST_PARAMETER_NAME;
    delete process.env.HOST_INSTANCE_ID;
    delete process.env.HOST_REFRESH_DOCUMENT;
    await handler(event('finishSecret'));
    expect(order).toEqual(['kvs:GetKey', 'kvs:Describe', 'kvs:PutKey', 'sm:Promote']);
  });
});

describe('guards', () => {
  test('a version that is already AWSCURRENT is left alone', async () => {
    secretState(['AWSCURRENT']);
    await handler(event('finishSecret'));
    expect(sm.commandCalls(UpdateSecretVersionStageCommand)).toHaveLength(0);
    expect(kvs.calls()).toHaveLength(0);
  });

  test('a version that is not pending is refused', async () => {
    secretState(['AWSPREVIOUS']);
    await expect(handler(event('createSecret'))).rejects.toThrow(/is not AWSPENDING/);
  });

  test('an unknown version or step, or a secret without rotation, is refused', async () => {
    secretState();
    await expect(handler(event('createSecret', 'other-token'))).rejects.toThrow(/has no stage/);
    await expect(handler(event('dropSecret'))).rejects.toThrow(/Unknown rotation step "dropSecret"/);
    sm.on(DescribeSecretCommand).resolves({ RotationEnabled: false, VersionIdsToStages: {} });
    await expect(handler(event('createSecret'))).rejects.toThrow(/does not have rotation enabled/);
  });
});

describe('SigV4A for the KeyValueStore API', () => {
  test('the signer is available and the client signs with ECDSA over region set "*"', async () => {
    if (!sigV4aSignerConstructor()) {
      throw new Error('@smithy/signature-v4a is not installed: add it to devDeps in .projenrc.ts (the rotation function bundles it to sign KeyValueStore requests)');
    }
    kvs.restore();
    // A request handler in place of the network: the real signing middleware runs, and the
    // signed request is captured instead of sent.
    let sent: { hostname?: string; headers: Record<string, string> } = { headers: {} };
    const requestHandler = {
      handle: async (request: { hostname?: string; headers: Record<string, string> }) => {
        sent = request;
        return {
          response: {
            statusCode: 200,
            headers: { 'content-type': 'application/json', 'etag': 'etag-9' },
            body: Readable.from([Buffer.from(JSON.stringify({ KvsARN: KVS, Created: 1, ItemCount: 1, TotalSizeInBytes: 10 }))]),
          },
        };
      },
    };
    const client = keyValueStoreClient({
      region: 'eu-west-1',
      credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' },
      requestHandler,
    });
    const out = await client.send(new DescribeKeyValueStoreCommand({ KvsARN: KVS }));
    expect(out.ETag).toBe('etag-9');
    expect(sent.hostname).toBe('123456789012.cloudfront-kvs.global.api.aws');
    expect(sent.headers.authorization).toMatch(/^AWS4-ECDSA-P256-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/cloudfront-keyvaluestore\/aws4_request, SignedHeaders=.*x-amz-region-set.*, Signature=[0-9a-f]+$/);
    expect(sent.headers['x-amz-region-set']).toBe('*');
  });

  test('the built rotation bundle contains the SigV4A signer (it is not in the Lambda runtime)', () => {
    const bundle = readFileSync(join(__dirname, '../../assets/constructs/origin-verified-http-api/origin-verify-rotation.lambda/index.js'), 'utf8');
    expect({ signerBundled: bundle.includes('AWS4-ECDSA-P256-SHA256') }).toEqual({ signerBundled: true });
  });
});
