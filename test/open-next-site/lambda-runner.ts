import { ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** A function of a synthesized stack, as Lambda would run it: its code folder, handler and environment. */
export interface DeployedFunction {
  readonly logicalId: string;
  readonly dir: string;
  readonly handler: string;
  readonly environment: Record<string, string>;
}

/**
 * Reads `fn` out of the synthesized template: the staged asset folder CloudFormation would
 * upload (cloud assembly), the handler, and the environment with references replaced by
 * stand-in names (`names`: logical id to name; others become the logical id; the region is
 * eu-west-1). `NODE_OPTIONS` keeps only flags that work outside Lambda.
 */
export function deployedFunction(
  stack: Stack, assemblyDir: string, fn: lambda.IFunction | string, names: Record<string, string> = {},
): DeployedFunction {
  const template = Template.fromStack(stack).toJSON();
  const logicalId = typeof fn === 'string' ? fn : stack.getLogicalId(fn.node.defaultChild as any);
  const resource = template.Resources[logicalId];
  const assetPath = resource.Metadata?.['aws:asset:path'];
  if (!assetPath) throw new Error(`${logicalId} has no aws:asset:path metadata`);
  const resolve = (v: any): string => {
    if (typeof v === 'string') return v;
    if (v.Ref === 'AWS::Region') return 'eu-west-1';
    if (v.Ref === 'AWS::AccountId') return '111111111111';
    if (v.Ref === 'AWS::URLSuffix') return 'amazonaws.com';
    if (v.Ref === 'AWS::Partition') return 'aws';
    if (v.Ref) return names[v.Ref] ?? v.Ref;
    if (v['Fn::GetAtt']) return names[v['Fn::GetAtt'][0]] ?? `${v['Fn::GetAtt'][0]}.${v['Fn::GetAtt'][1]}`;
    if (v['Fn::Join']) return v['Fn::Join'][1].map(resolve).join(v['Fn::Join'][0]);
    throw new Error(`cannot resolve ${JSON.stringify(v)}`);
  };
  const environment: Record<string, string> = {};
  for (const [k, v] of Object.entries(resource.Properties.Environment?.Variables ?? {})) environment[k] = resolve(v);
  if (environment.NODE_OPTIONS) environment.NODE_OPTIONS = environment.NODE_OPTIONS.split(' ').filter((o) => o === '--enable-source-maps').join(' ');
  return { logicalId, dir: join(assemblyDir, assetPath), handler: resource.Properties.Handler, environment };
}

export interface HandlerRun {
  readonly importMs: number;
  readonly results: { ms: number; result?: any; error?: { name: string; message: string } }[];
}

/** A handler whose process died (an uncaught error), with its exit code and stderr. */
export class HandlerCrash extends Error {
  constructor(public readonly stderr: string, public readonly code: number | null) {
    super(`handler process exited with ${code}: ${stderr.slice(-2000)}`);
  }
}

/**
 * Runs `fn`'s handler in a fresh Node.js process (one execution environment) on `events`, in
 * order, with the function's environment plus `extraEnv` (the AWS endpoint, credentials and
 * region Lambda would provide).
 */
export function runHandler(fn: DeployedFunction, events: unknown[], extraEnv: Record<string, string> = {}): Promise<HandlerRun> {
  return new Promise((resolve, reject) => {
    const child = execFile(process.execPath, [join(__dirname, 'run-handler.mjs'), fn.dir, fn.handler], {
      env: { PATH: process.env.PATH ?? '', TZ: 'UTC', RUNTIME_NODE_MODULES: join(__dirname, '..', '..', 'node_modules'), AWS_LAMBDA_FUNCTION_NAME: fn.logicalId, ...fn.environment, ...extraEnv },
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    }, (error, stdout, stderr) => {
      const line = stdout.trim().split('\n').pop() ?? '';
      if (error || !line.startsWith('{')) return reject(new HandlerCrash(stderr, (error as any)?.code ?? null));
      resolve(JSON.parse(line));
    });
    child.stdin!.end(JSON.stringify(events));
  });
}

/**
 * A warm execution environment of a function: one process that imported the handler once
 * and answers events in order (like one Lambda instance).
 */
export class LambdaInstance {
  public importMs = 0;
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, (answer: any) => void>();
  private nextId = 0;
  private buffer = '';
  private stderr = '';
  private readonly ready: Promise<void>;

  constructor(public readonly fn: DeployedFunction, extraEnv: Record<string, string> = {}) {
    this.child = spawn(process.execPath, [join(__dirname, 'run-handler.mjs'), fn.dir, fn.handler, '--lines'], {
      env: {
        PATH: process.env.PATH ?? '',
        TZ: 'UTC',
        RUNTIME_NODE_MODULES: join(__dirname, '..', '..', 'node_modules'),
        AWS_LAMBDA_FUNCTION_NAME: fn.logicalId,
        ...fn.environment,
        ...extraEnv,
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let resolveReady: () => void;
    let rejectReady: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => { resolveReady = resolve; rejectReady = reject; });
    this.child.stderr!.on('data', (c) => { this.stderr = (this.stderr + c.toString()).slice(-20000); });
    this.child.on('exit', (code) => {
      const error = new HandlerCrash(this.stderr, code);
      rejectReady(error);
      for (const resolve of this.pending.values()) resolve({ error: { name: 'HandlerCrash', message: error.message } });
      this.pending.clear();
    });
    this.child.stdout!.on('data', (c) => {
      this.buffer += c.toString();
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        if (!line.startsWith('{')) continue;
        const answer = JSON.parse(line);
        if (answer.ready) {
          this.importMs = answer.importMs;
          resolveReady();
          continue;
        }
        const resolve = this.pending.get(answer.id);
        this.pending.delete(answer.id);
        resolve?.(answer);
      }
    });
  }

  /** The handler's answer to `event` ({ ms, result } or { ms, error }). */
  public async invoke(event: unknown): Promise<{ ms: number; result?: any; error?: { name: string; message: string } }> {
    await this.ready;
    const id = ++this.nextId;
    return new Promise((resolve) => {
      // Like Lambda's timeout: an answer that never comes is an error, not a hung test.
      const timer = setTimeout(() => {
        this.pending.delete(id);
        resolve({ ms: 30_000, error: { name: 'Timeout', message: `no answer in 30 s; stderr: ${this.stderr.slice(-2000)}` } });
      }, 30_000);
      this.pending.set(id, (answer) => { clearTimeout(timer); resolve(answer); });
      this.child.stdin!.write(JSON.stringify({ id, event }) + '\n');
    });
  }

  public get logs(): string {
    return this.stderr;
  }

  public stop(): void {
    this.child.kill();
  }
}
