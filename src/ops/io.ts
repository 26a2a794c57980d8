import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync } from 'node:fs';
import * as readline from 'node:readline/promises';

/**
 * Everything the CLI does outside AWS, injectable so that tests run without a terminal,
 * without waiting and without starting programs.
 */
export interface OpsIo {
  /** Whether a person can answer a question (stdin and stderr are terminals). */
  readonly interactive: boolean;
  /** Aborted when the user presses Ctrl-C (ends `logs --follow`). */
  readonly signal: AbortSignal;
  /** Results (stdout). */
  out(text: string): void;
  /** Progress, warnings and errors (stderr), so stdout stays pipeable. */
  err(text: string): void;
  /** Asks a question on the terminal and returns the answer. */
  ask(question: string): Promise<string>;
  sleep(ms: number): Promise<void>;
  now(): Date;
  /** Runs a local program with the terminal attached; resolves with its exit code. */
  exec(command: string, args: string[]): Promise<number>;
  /** Whether a program is on the PATH. */
  which(command: string): boolean;
  readFile(path: string): Buffer;
  /** HTTP GET for the public health check. */
  fetch(url: string, timeoutMs: number): Promise<{ status: number; body: string }>;
}

/** The real terminal, processes and network. */
export function processIo(): OpsIo {
  const abort = new AbortController();
  // The first Ctrl-C ends `logs --follow` cleanly; anything else still exits promptly.
  process.on('SIGINT', () => {
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
    setTimeout(() => process.exit(130), 3000).unref();
  });
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    interactive: Boolean(process.stdin.isTTY && process.stderr.isTTY),
    async ask(question) {
      const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
      try {
        return await rl.question(question);
      } finally {
        rl.close();
      }
    },
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => new Date(),
    exec: (command, args) => new Promise((resolve, reject) => {
      const child = spawn(command, args, { stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', (code, sig) => resolve(code ?? (sig ? 130 : 1)));
    }),
    which: (command) => (process.env.PATH ?? '').split(':').some((dir) => {
      try {
        accessSync(`${dir}/${command}`, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    }),
    readFile: (path) => readFileSync(path),
    async fetch(url, timeoutMs) {
      const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
      return { status: res.status, body: await res.text() };
    },
    signal: abort.signal,
  };
}
