import { GetCommandInvocationCommand, GetCommandInvocationCommandOutput, SendCommandCommand } from '@aws-sdk/client-ssm';
import { OpsContext } from './context';
import { aws, explainAwsError, OpsError } from './errors';

export interface HostRun {
  /** What the command does, for progress and errors ("restore drill"). */
  readonly title: string;
  readonly commands: string[];
  /** How long it may run on the host. */
  readonly timeoutSeconds: number;
  /** What to do when it fails on the host. */
  readonly onFailure: string;
}

export interface HostResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

const TERMINAL = new Set(['Success', 'Failed', 'Cancelled', 'TimedOut', 'Cancelling']);
/** Run Command keeps the first 24,000 characters of each stream in the API response. */
const OUTPUT_LIMIT = 24000;

/**
 * Runs shell on the data host with Run Command (`AWS-RunShellScript`, as root), shows
 * progress while it runs, and returns its output, or throws an OpsError naming the step,
 * the exit code, the end of its stderr and what to do.
 */
export async function runOnHost(ctx: OpsContext, run: HostRun): Promise<HostResult> {
  const { instanceId } = await ctx.host();
  const { io } = ctx;
  const started = io.now().getTime();
  const sent = await aws('ssm:SendCommand', ctx.region, () => ctx.clients.ssm.send(new SendCommandCommand({
    InstanceIds: [instanceId],
    DocumentName: 'AWS-RunShellScript',
    Comment: `shtetl-ops: ${run.title}`.slice(0, 100),
    Parameters: { commands: hostScript(run.commands), executionTimeout: [String(run.timeoutSeconds)] },
    // How long Run Command waits for the agent to pick the command up.
    TimeoutSeconds: 60,
  })));
  const commandId = sent.Command?.CommandId;
  if (!commandId) throw new OpsError(`Run Command returned no command id for ${run.title}.`, 'Re-run the command; if it persists, check the SSM service health.');
  io.err(`${run.title}: running on ${instanceId} (command ${commandId})`);

  let delay = 1000;
  let lastProgress = started;
  let invocation: GetCommandInvocationCommandOutput | undefined;
  for (;;) {
    await io.sleep(delay);
    delay = Math.min(delay * 2, 5000);
    try {
      invocation = await ctx.clients.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId }));
    } catch (error) {
      // The invocation appears a moment after SendCommand returns.
      if ((error as Error).name === 'InvocationDoesNotExist' && io.now().getTime() - started < 60_000) continue;
      throw explainAwsError(error, 'ssm:GetCommandInvocation', ctx.region);
    }
    const now = io.now().getTime();
    if (TERMINAL.has(invocation.Status ?? '')) break;
    if (now - lastProgress >= 10_000) {
      io.err(`  ... ${run.title}: ${invocation.Status} for ${formatSeconds((now - started) / 1000)}`);
      lastProgress = now;
    }
  }
  const seconds = (io.now().getTime() - started) / 1000;
  const stdout = invocation.StandardOutputContent ?? '';
  const stderr = invocation.StandardErrorContent ?? '';
  if (invocation.Status !== 'Success') {
    const what = invocation.Status === 'TimedOut' ? `timed out after ${run.timeoutSeconds}s`
      : invocation.Status === 'Failed' ? `failed with exit code ${invocation.ResponseCode}`
        : `was ${invocation.Status?.toLowerCase()}`;
    const tail = lastLines(stderr || stdout, 15);
    throw new OpsError(`${run.title} ${what} on ${instanceId} (command ${commandId}).${tail ? `\n${indent(tail)}` : ''}`, run.onFailure);
  }
  if (stdout.length >= OUTPUT_LIMIT || stderr.length >= OUTPUT_LIMIT) {
    io.err(`  (output truncated by Run Command at ${OUTPUT_LIMIT} characters: see the full output with aws ssm list-command-invocations --command-id ${commandId} --details)`);
  }
  return { stdout, stderr, seconds };
}

/**
 * The lines Run Command runs. AWS-RunShellScript hands them to `sh`. The script travels
 * base64-encoded (an alphabet that cannot end a quote, a here-document or a line), is
 * written to a file and run by bash (lib.sh is bash) with stdin closed, so no command can
 * read the rest of the script as input. Nothing the operator typed is ever shell syntax
 * here: a value that could end a here-document delimiter ran as root before.
 */
export function hostScript(commands: string[]): string[] {
  const encoded = Buffer.from(`${commands.join('\n')}\n`, 'utf8').toString('base64');
  return [
    'script="$(mktemp)"',
    `printf '%s' '${encoded}' | base64 -d >"$script"`,
    'rc=0; bash -e "$script" </dev/null || rc=$?',
    'rm -f "$script"',
    'exit "$rc"',
  ];
}

export function formatSeconds(seconds: number): string {
  const s = Math.round(seconds);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

function lastLines(text: string, n: number): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}

function indent(text: string): string {
  return text.split('\n').map((l) => `    ${l}`).join('\n');
}
