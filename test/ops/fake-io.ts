import { OpsIo } from '../../src/ops/io';

/** A scripted terminal: records output, answers questions, and never waits. */
export class FakeIo implements OpsIo {
  public stdout = '';
  public stderr = '';
  public questions: string[] = [];
  public execs: { command: string; args: string[] }[] = [];
  public fetches: string[] = [];
  public sleeps = 0;
  public clock = Date.parse('2026-11-26T04:00:00Z');
  public readonly abort = new AbortController();
  public answers: string[] = [];
  public installed = new Set(['aws', 'session-manager-plugin']);
  public files: { [path: string]: Buffer } = {};
  public fetchResult: { status: number; body: string } | Error = { status: 200, body: '{"status":"healthy"}' };
  public execCode = 0;
  /** Called on every sleep (e.g. to stop `logs --follow` after a round). */
  public onSleep?: (count: number) => void;

  constructor(public readonly interactive = false) {}

  out(text: string): void { this.stdout += text.endsWith('\n') ? text : `${text}\n`; }
  err(text: string): void { this.stderr += text.endsWith('\n') ? text : `${text}\n`; }
  async ask(question: string): Promise<string> {
    this.questions.push(question);
    return this.answers.shift() ?? '';
  }
  async sleep(ms: number): Promise<void> {
    this.clock += ms;
    this.sleeps++;
    this.onSleep?.(this.sleeps);
  }
  now(): Date { return new Date(this.clock); }
  async exec(command: string, args: string[]): Promise<number> {
    this.execs.push({ command, args });
    return this.execCode;
  }
  which(command: string): boolean { return this.installed.has(command); }
  readFile(path: string): Buffer {
    const file = this.files[path];
    if (!file) throw new Error(`ENOENT: no such file or directory, open '${path}'`);
    return file;
  }
  async fetch(url: string): Promise<{ status: number; body: string }> {
    this.fetches.push(url);
    if (this.fetchResult instanceof Error) throw this.fetchResult;
    return this.fetchResult;
  }
  get signal(): AbortSignal { return this.abort.signal; }
}
