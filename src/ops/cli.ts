import { parseArgs } from 'node:util';
import { COMMANDS } from './commands';
import { resolveTarget } from './config';
import { OpsContext } from './context';
import { OpsError, UsageError } from './errors';
import { OpsIo } from './io';

const GLOBAL_OPTIONS = ['service', 'region', 'stack-prefix', 'url', 'yes', 'help'];

/** Every option any command takes (util.parseArgs needs them up front). */
const OPTIONS = {
  'service': { type: 'string', short: 's' },
  'region': { type: 'string', short: 'r' },
  'url': { type: 'string' },
  'distribution-id': { type: 'string' },
  'stack-prefix': { type: 'string' },
  'yes': { type: 'boolean', short: 'y' },
  'help': { type: 'boolean', short: 'h' },
  'print': { type: 'boolean' },
  'local-port': { type: 'string' },
  'lines': { type: 'string', short: 'n' },
  'since': { type: 'string' },
  'follow': { type: 'boolean', short: 'f' },
  'source': { type: 'string' },
  'snapshot': { type: 'string' },
  'before': { type: 'string' },
  'database': { type: 'string' },
  'paths': { type: 'string', multiple: true },
  'no-wait': { type: 'boolean' },
  'file': { type: 'string' },
  'version-id': { type: 'string' },
  'replica-bucket': { type: 'string' },
  'target-region': { type: 'string' },
  'repository-prefix': { type: 'string' },
  'ssm-prefix': { type: 'string' },
} as const;

export function usage(): string {
  const seen = new Set<unknown>();
  const lines = Object.values(COMMANDS).filter((c) => !seen.has(c) && seen.add(c))
    .map((c) => `  ${c.usage}\n      ${c.summary}${c.destructive ? ' (asks first)' : ''}`);
  return [
    'shtetl-ops: operate a shtetl service (a GravitonDataHost, its backups and site) from a laptop or a workflow (AWS credentials, no SSH).',
    '',
    'Usage: shtetl-ops [--service NAME] [--region REGION] [--stack-prefix PREFIX] [--url HEALTH_URL] [--yes] COMMAND [options]',
    '',
    'Commands:',
    ...lines,
    '',
    'Resources are found by their tags (shtetl:service=NAME, set by the constructs; `shtetl-ops outputs` shows them).',
    'Defaults: SHTETL_SERVICE, AWS_REGION, then context "shtetl-ops" {service, region, stackPrefix, healthUrl} of the',
    'nearest cdk.json. --stack-prefix picks one environment when several share a service name.',
    'Destructive commands ask first; without a terminal they need --yes. shell and psql need the AWS CLI v2',
    'and its Session Manager plugin.',
  ].join('\n');
}

/** Runs one command line; returns the exit code (0 ok, 1 failed, 2 usage). Never throws. */
export async function runCli(argv: string[], io: OpsIo, env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): Promise<number> {
  try {
    let parsed;
    try {
      parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
    } catch (error) {
      throw new UsageError((error as Error).message);
    }
    const [name, ...positionals] = parsed.positionals;
    if (!name || name === 'help' || parsed.values.help) {
      io.out(usage());
      return name || parsed.values.help ? 0 : 2;
    }
    const command = COMMANDS[name];
    if (!command) throw new UsageError(`Unknown command "${name}".`);
    const extra = Object.keys(parsed.values).filter((o) => !GLOBAL_OPTIONS.includes(o) && !command.options.includes(o));
    if (extra.length) throw new UsageError(`${name} does not take --${extra.join(', --')}.`, `Usage: shtetl-ops ${command.usage}`);
    const target = resolveTarget({
      service: parsed.values.service, region: parsed.values.region, stackPrefix: parsed.values['stack-prefix'], url: parsed.values.url,
    }, env, cwd, !command.serviceless);
    const ctx = new OpsContext({ ...target, yes: parsed.values.yes === true }, io);
    return await command.run(ctx, { positionals, values: parsed.values as CommandArgsValues });
  } catch (error) {
    if (error instanceof OpsError) {
      io.err(`error: ${error.message}`);
      io.err(`what to do: ${error.hint}`);
      return error.exitCode;
    }
    io.err(`error: unexpected failure: ${(error as Error)?.stack ?? String(error)}`);
    io.err('what to do: this is a bug in shtetl-ops; re-run with the same arguments, and report it with this output.');
    return 1;
  }
}

type CommandArgsValues = { [name: string]: string | boolean | string[] | undefined };
