import { createServer, IncomingMessage, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { DeleteParameterCommand, ParameterAlreadyExists, PutParameterCommand, SSMClient } from '@aws-sdk/client-ssm';
import type { CloudFormationCustomResourceEvent, Context } from 'aws-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { generateValue, handler } from '../../src/constructs/generated-secrets/generate-secret.lambda';

const ssm = mockClient(SSMClient);
let server: Server;
let responses: any[];
let url: string;

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c) => { body += c; });
    req.on('end', () => { responses.push({ method: req.method, body: JSON.parse(body) }); res.end(); });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/response`;
});
afterAll(() => new Promise((resolve) => server.close(resolve)));

let logged: string;
beforeEach(() => {
  ssm.reset();
  responses = [];
  logged = '';
  jest.spyOn(console, 'log').mockImplementation((...a) => { logged += a.join(' '); });
  jest.spyOn(console, 'error').mockImplementation((...a) => { logged += a.join(' '); });
});
afterEach(() => jest.restoreAllMocks());

const context = { logStreamName: 'stream' } as Context;
function event(requestType: 'Create' | 'Update' | 'Delete', props: Record<string, string> = {}): CloudFormationCustomResourceEvent {
  return {
    RequestType: requestType,
    ResponseURL: url,
    StackId: 'stack',
    RequestId: 'req-1',
    LogicalResourceId: 'Secret',
    ResourceType: 'Custom::GeneratedSecureParameter',
    ServiceToken: 'arn',
    PhysicalResourceId: '/app/db-password',
    ResourceProperties: { ServiceToken: 'arn', ParameterName: '/app/db-password', Length: '48', DeleteOnRemoval: 'false', ...props },
  } as any;
}

describe('generate-secret handler', () => {
  test('create puts a random SecureString without overwrite and reports success without the value', async () => {
    ssm.on(PutParameterCommand).resolves({ Version: 1 });
    await handler(event('Create'), context);
    const put = ssm.commandCalls(PutParameterCommand)[0].args[0].input;
    expect(put).toMatchObject({ Name: '/app/db-password', Type: 'SecureString', Overwrite: false });
    expect(put.Value).toMatch(/^[A-Za-z0-9_-]{48}$/);
    expect(responses).toHaveLength(1);
    expect(responses[0]).toMatchObject({ method: 'PUT', body: { Status: 'SUCCESS', PhysicalResourceId: '/app/db-password', RequestId: 'req-1' } });
    expect(JSON.stringify(responses[0].body)).not.toContain(put.Value);
    expect(logged).not.toContain(put.Value!);
  });

  test('an existing parameter is kept, never overwritten', async () => {
    ssm.on(PutParameterCommand).rejects(new ParameterAlreadyExists({ message: 'exists', $metadata: {} }));
    await handler(event('Update'), context);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(1);
    expect(ssm.commandCalls(PutParameterCommand)[0].args[0].input.Overwrite).toBe(false);
    expect(responses[0].body).toMatchObject({ Status: 'SUCCESS', PhysicalResourceId: '/app/db-password' });
  });

  test('delete keeps the parameter unless DeleteOnRemoval is true', async () => {
    await handler(event('Delete'), context);
    expect(ssm.commandCalls(DeleteParameterCommand)).toHaveLength(0);
    expect(responses[0].body.Status).toBe('SUCCESS');

    ssm.on(DeleteParameterCommand).resolves({});
    await handler(event('Delete', { DeleteOnRemoval: 'true' }), context);
    expect(ssm.commandCalls(DeleteParameterCommand)[0].args[0].input).toEqual({ Name: '/app/db-password' });
  });

  test('an SSM failure reports FAILED with the reason, so the deployment stops', async () => {
    ssm.on(PutParameterCommand).rejects(Object.assign(new Error('User is not authorized to perform ssm:PutParameter'), { name: 'AccessDeniedException' }));
    await handler(event('Create'), context);
    expect(responses[0].body).toMatchObject({ Status: 'FAILED', Reason: expect.stringContaining('AccessDeniedException: User is not authorized'), PhysicalResourceId: 'failed-req-1' });
  });

  test('invalid properties fail with a message naming them', async () => {
    await handler(event('Create', { ParameterName: 'relative', Length: '8' }), context);
    expect(responses[0].body.Reason).toMatch(/ParameterName must be an absolute SSM path and Length 16-1024 \(got "relative", "8"\)/);
    expect(ssm.commandCalls(PutParameterCommand)).toHaveLength(0);
  });

  test('values are URL-safe, of the requested length, and differ each time', () => {
    const values = new Set(Array.from({ length: 200 }, () => generateValue(32)));
    expect(values.size).toBe(200);
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });
});
