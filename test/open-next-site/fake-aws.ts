import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';

/**
 * A stand-in for the AWS endpoints OpenNext's bundles call (set AWS_ENDPOINT_URL to `url`),
 * so the real SDK calls inside the real bundles run: DynamoDB (BatchWriteItem, Query with
 * the key conditions OpenNext uses), S3 (path-style GetObject/PutObject/HeadObject),
 * SQS (JSON protocol SendMessage) and Lambda Invoke (answered by `onInvoke`).
 */
export class FakeAws {
  /** DynamoDB items by table name. */
  public readonly tables = new Map<string, Record<string, any>[]>();
  /** S3 objects by `bucket/key`. */
  public readonly objects = new Map<string, { body: Buffer; contentType?: string; cacheControl?: string; modified?: Date }>();
  /** Every SQS message sent. */
  public readonly messages: { queueUrl: string; body: string; groupId?: string; deduplicationId?: string }[] = [];
  /** Secrets Manager secrets by id: a value per stage and when AWSCURRENT was created. */
  public readonly secrets = new Map<string, { AWSCURRENT?: string; AWSPENDING?: string; AWSPREVIOUS?: string; currentCreated?: Date }>();
  /** Called after every GetSecretValue answer, with the number answered so far. */
  public onSecretRead?: (count: number) => void;
  private secretReads = 0;
  /** When set, Secrets Manager answers every call with this error (an outage). */
  public secretsOutage?: string;
  /** Every call, as `service:operation`. */
  public readonly calls: string[] = [];
  public url = '';
  private server?: Server;
  public onInvoke: (functionName: string, payload: string) => Promise<{ payload: string; functionError?: string }> =
    async () => ({ payload: 'null' });

  public async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        this.handle(req, Buffer.concat(chunks), res).catch((e) => {
          res.statusCode = 500;
          res.end(JSON.stringify({ message: String(e) }));
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  public async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }

  /** Environment for a process whose AWS SDK clients should talk to this fake. */
  public env(): Record<string, string> {
    return {
      AWS_REGION: 'eu-west-1',
      AWS_DEFAULT_REGION: 'eu-west-1',
      AWS_ACCESS_KEY_ID: 'AKIDFAKE',
      AWS_SECRET_ACCESS_KEY: 'fake',
      AWS_SESSION_TOKEN: 'fake',
      AWS_ENDPOINT_URL: this.url,
      AWS_MAX_ATTEMPTS: '1',
    };
  }

  private async handle(req: IncomingMessage, body: Buffer, res: ServerResponse) {
    const target = String(req.headers['x-amz-target'] ?? '');
    const url = new URL(req.url ?? '/', this.url);
    if (target.startsWith('DynamoDB_')) return this.dynamo(target.split('.')[1], JSON.parse(body.toString('utf8')), res);
    if (target.startsWith('secretsmanager.')) return this.secretsManager(target.split('.')[1], JSON.parse(body.toString('utf8')), res);
    if (target.startsWith('AmazonSQS.')) return this.sqs(target.split('.')[1], JSON.parse(body.toString('utf8')), res);
    const invoke = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname);
    if (invoke) {
      const name = decodeURIComponent(invoke[1]);
      this.calls.push(`lambda:Invoke:${name}`);
      const out = await this.onInvoke(name, body.toString('utf8'));
      res.statusCode = 200;
      if (out.functionError) res.setHeader('x-amz-function-error', out.functionError);
      res.setHeader('content-type', 'application/json');
      return res.end(out.payload);
    }
    return this.s3(req.method ?? 'GET', url, body, req, res);
  }

  private dynamo(op: string, input: any, res: ServerResponse) {
    this.calls.push(`dynamodb:${op}`);
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    const table = (name: string) => {
      if (!this.tables.has(name)) this.tables.set(name, []);
      return this.tables.get(name)!;
    };
    if (op === 'BatchWriteItem') {
      for (const [name, requests] of Object.entries(input.RequestItems as Record<string, any[]>)) {
        if (!name) {
          res.statusCode = 400;
          return res.end(JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'TableName must not be empty' }));
        }
        for (const r of requests) this.put(table(name), r.PutRequest.Item);
      }
      return res.end(JSON.stringify({ UnprocessedItems: {} }));
    }
    if (op === 'PutItem') {
      this.put(table(input.TableName), input.Item);
      return res.end('{}');
    }
    if (op === 'Query') {
      if (!input.TableName) {
        res.statusCode = 400;
        return res.end(JSON.stringify({ __type: 'com.amazon.coral.validate#ValidationException', message: 'TableName must not be empty' }));
      }
      const names = input.ExpressionAttributeNames ?? {};
      const values = input.ExpressionAttributeValues ?? {};
      // OpenNext's conditions: "#k = :k" optionally "AND #r > :r".
      const conditions = String(input.KeyConditionExpression).split(/\s+AND\s+/i).map((c) => {
        const m = /^(#\w+)\s*(=|>)\s*(:\w+)$/.exec(c.trim());
        if (!m) throw new Error(`unsupported KeyConditionExpression ${input.KeyConditionExpression}`);
        return { attr: names[m[1]], op: m[2], value: values[m[3]] };
      });
      const items = table(input.TableName).filter((item) => conditions.every(({ attr, op: o, value }) => {
        const v = item[attr];
        if (!v) return false;
        if (o === '=') return JSON.stringify(v) === JSON.stringify(value);
        return Number(v.N) > Number(value.N);
      }));
      return res.end(JSON.stringify({ Items: items, Count: items.length }));
    }
    res.statusCode = 400;
    return res.end(JSON.stringify({ __type: 'UnknownOperationException', message: op }));
  }

  private put(items: Record<string, any>[], item: Record<string, any>) {
    const i = items.findIndex((x) => x.tag?.S === item.tag?.S && x.path?.S === item.path?.S);
    if (i >= 0) items[i] = item;
    else items.push(item);
  }

  private secretsManager(op: string, input: any, res: ServerResponse) {
    this.calls.push(`secretsmanager:${op}:${input.VersionStage ?? ''}`);
    res.setHeader('content-type', 'application/x-amz-json-1.1');
    // Every answer (found or not) counts; the hook runs once the answer is on its way.
    this.secretReads += 1;
    const count = this.secretReads;
    res.on('finish', () => this.onSecretRead?.(count));
    const fail = (type: string, message: string, status = 400) => {
      res.statusCode = status;
      return res.end(JSON.stringify({ __type: type, message }));
    };
    if (this.secretsOutage) return fail('InternalServiceError', this.secretsOutage, 500);
    if (op !== 'GetSecretValue') return fail('UnsupportedOperation', op);
    const secret = this.secrets.get(input.SecretId);
    const stage = (input.VersionStage ?? 'AWSCURRENT') as 'AWSCURRENT' | 'AWSPENDING' | 'AWSPREVIOUS';
    const value = secret?.[stage];
    if (!secret || value === undefined) return fail('ResourceNotFoundException', `Secrets Manager can't find the specified secret value for staging label: ${stage}`);
    const created = stage === 'AWSCURRENT' ? secret.currentCreated ?? new Date() : new Date(0);
    return res.end(JSON.stringify({
      ARN: input.SecretId, Name: 'origin-verify', VersionId: stage, SecretString: value, VersionStages: [stage], CreatedDate: created.getTime() / 1000,
    }));
  }

  private sqs(op: string, input: any, res: ServerResponse) {
    this.calls.push(`sqs:${op}`);
    res.setHeader('content-type', 'application/x-amz-json-1.0');
    if (op === 'SendMessage') {
      this.messages.push({
        queueUrl: input.QueueUrl, body: input.MessageBody, groupId: input.MessageGroupId, deduplicationId: input.MessageDeduplicationId,
      });
      return res.end(JSON.stringify({ MessageId: `m-${this.messages.length}`, MD5OfMessageBody: '' }));
    }
    res.statusCode = 400;
    return res.end(JSON.stringify({ __type: 'UnsupportedOperation', message: op }));
  }

  private s3(method: string, url: URL, body: Buffer, req: IncomingMessage, res: ServerResponse) {
    const [, bucket, ...rest] = url.pathname.split('/');
    const key = decodeURIComponent(rest.join('/'));
    this.calls.push(`s3:${method}:${bucket}/${key}`);
    const id = `${bucket}/${key}`;
    if (method === 'PUT') {
      this.objects.set(id, { body, contentType: req.headers['content-type'] as string, cacheControl: req.headers['cache-control'] as string, modified: new Date() });
      res.setHeader('etag', '"e"');
      return res.end();
    }
    if (method === 'GET' || method === 'HEAD') {
      const o = this.objects.get(id);
      if (!o) {
        res.statusCode = 404;
        res.setHeader('content-type', 'application/xml');
        return res.end(method === 'HEAD' ? undefined : `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>no such key</Message><Key>${key}</Key></Error>`);
      }
      res.setHeader('content-type', o.contentType ?? 'application/octet-stream');
      res.setHeader('content-length', String(o.body.length));
      res.setHeader('last-modified', (o.modified ?? new Date(0)).toUTCString());
      res.setHeader('etag', '"e"');
      if (o.cacheControl) res.setHeader('cache-control', o.cacheControl);
      return res.end(method === 'HEAD' ? undefined : o.body);
    }
    if (method === 'DELETE') {
      this.objects.delete(id);
      res.statusCode = 204;
      return res.end();
    }
    res.statusCode = 405;
    return res.end();
  }
}
