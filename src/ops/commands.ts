import { CreateInvalidationCommand, GetInvalidationCommand } from '@aws-sdk/client-cloudfront';
import { FilteredLogEvent, FilterLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DescribeInstancesCommand, DescribeVolumesCommand, Instance, StartInstancesCommand, StopInstancesCommand } from '@aws-sdk/client-ec2';
import {
  CopyObjectCommand, GetBucketLocationCommand, GetBucketReplicationCommand, ListObjectsV2Command, ListObjectsV2CommandOutput,
  PutObjectCommand, S3Client,
} from '@aws-sdk/client-s3';
import { DescribeInstanceInformationCommand, DescribeParametersCommand, SSMClient } from '@aws-sdk/client-ssm';
import { OpsContext } from './context';
import { aws, explainAwsError, OpsError, UsageError } from './errors';
import * as host from './host-commands';
import { formatSeconds, runOnHost } from './run-on-host';
import { OPS_TAGS } from '../constructs/ops-tags';

/** What a command receives from the command line (after the global options). */
export interface CommandArgs {
  readonly positionals: string[];
  readonly values: { [name: string]: string | boolean | string[] | undefined };
}

export interface CommandSpec {
  readonly summary: string;
  readonly usage: string;
  /** Options (beyond the global ones) the command accepts. */
  readonly options: string[];
  /** Asks before it changes anything (and takes --yes). */
  readonly destructive?: boolean;
  /** Works without a service (it lists them). */
  readonly serviceless?: boolean;
  readonly run: (ctx: OpsContext, args: CommandArgs) => Promise<number>;
}

const HOUR = 3600;

/**
 * Asks before a destructive action. Without a terminal and without --yes it refuses, so a
 * script never changes production by accident.
 */
export async function confirm(ctx: OpsContext, action: string): Promise<void> {
  if (ctx.options.yes) {
    ctx.io.err(`${action} (confirmed by --yes)`);
    return;
  }
  if (!ctx.io.interactive) {
    throw new OpsError(`Refusing to ${action.charAt(0).toLowerCase()}${action.slice(1)} without confirmation: there is no terminal to ask on.`,
      'Re-run it in a terminal to be asked, or add --yes once you are sure (workflows must pass --yes explicitly).');
  }
  const answer = await ctx.io.ask(`${action}?\nType "yes" to continue: `);
  if (answer.trim().toLowerCase() !== 'yes') {
    throw new OpsError('Cancelled: nothing was changed.', 'Answer "yes" to go ahead.');
  }
}

/** One of the host's units by the name operators use (boot only where it makes sense). */
function unitName(name: string | undefined, allowBoot = false): host.UnitName {
  const names = host.UNITS.filter((n) => allowBoot || n !== 'boot');
  if (!name || !(names as readonly string[]).includes(name)) {
    throw new UsageError(`Unknown unit "${name ?? ''}".`, `Use one of: ${names.join(', ')}.`);
  }
  return name as host.UnitName;
}

/**
 * Checks an option against an allow-list pattern. Values reach the host's shell (quoted) or
 * an AWS API; anything outside the pattern is refused before any AWS call.
 */
function checked(args: CommandArgs, name: string, pattern: RegExp, what: string): string | undefined {
  const value = str(args, name);
  if (value !== undefined && !pattern.test(value)) {
    throw new UsageError(`--${name} ${JSON.stringify(value)} is not ${what}.`, `Give ${what}.`);
  }
  return value;
}

/** A restic snapshot id (short or full). */
const SNAPSHOT_ID = /^[0-9a-f]{8,64}$/;
/** A date, optionally with a time and zone: 2026-11-25, 2026-11-25 12:00, 2026-11-25T12:00:00Z. */
const TIME = /^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?(Z|[+-]\d{2}:?\d{2})?$/;
/** An unquoted PostgreSQL identifier as the constructs create them. */
const DATABASE = /^[a-z_][a-z0-9_]{0,62}$/;

/** A backup source name as ResticBackups accepts it. */
function sourceName(args: CommandArgs): string | undefined {
  const name = str(args, 'source');
  if (name !== undefined && !/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new UsageError(`--source "${name}" is not a backup source name.`, 'Source names are lowercase letters, digits and dashes (e.g. app, database); `shtetl-ops snapshots` shows them.');
  }
  return name;
}

function str(args: CommandArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}

function printResult(ctx: OpsContext, result: { stdout: string; stderr: string }): void {
  if (result.stderr.trim()) ctx.io.err(result.stderr.trimEnd());
  if (result.stdout.trim()) ctx.io.out(result.stdout.trimEnd());
}

/** Parses "90s", "15m", "2h", "7d" or an ISO time into epoch milliseconds before `now`. */
export function parseSince(value: string, now: Date): number {
  const m = /^(\d+)([smhd])$/.exec(value);
  if (m) return now.getTime() - Number(m[1]) * { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3 }[m[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new UsageError(`--since "${value}" is neither a duration nor a time.`, 'Use e.g. 30m, 2h, 1d or 2026-11-26T03:00:00Z.');
  return t;
}

async function session(ctx: OpsContext, args: string[], printOnly: boolean, explain: string[]): Promise<number> {
  ctx.io.err(`$ aws ${args.map((a) => (/^[\w./:=,-]+$/.test(a) ? a : host.quote(a))).join(' ')}`);
  for (const line of explain) ctx.io.err(line);
  if (printOnly) return 0;
  if (!ctx.io.which('aws')) {
    throw new OpsError('The AWS CLI (v2) is not installed; Session Manager sessions start from it.',
      'Install it (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html), or use --print and run the command elsewhere.');
  }
  if (!ctx.io.which('session-manager-plugin')) {
    throw new OpsError('The Session Manager plugin for the AWS CLI is not installed (session-manager-plugin is not on the PATH).',
      'Install it: https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-working-with-install-plugin.html (no SSH, key or open port is needed).');
  }
  const code = await ctx.io.exec('aws', args);
  if (code !== 0 && code !== 130) {
    throw new OpsError(`The Session Manager session ended with exit code ${code}.`,
      'TargetNotConnected means the SSM agent on the host is offline: run `shtetl-ops host-status`; AccessDenied means your credentials may not ssm:StartSession on the host.');
  }
  return 0;
}

/** One line of `outputs`: a lookup that may fail without failing the listing. */
async function found(lookup: () => Promise<string>): Promise<string> {
  try {
    return await lookup();
  } catch (error) {
    return `(not found: ${(error as Error).message.split('\n')[0]})`;
  }
}

const outputs: CommandSpec = {
  summary: 'show what the CLI found for the service (by the tags of its resources)',
  usage: 'outputs',
  options: [],
  async run(ctx) {
    const rows: [string, string][] = [
      ['service', `${ctx.service}${ctx.options.configFile ? ` (defaults from ${ctx.options.configFile})` : ''}`],
      ['region', ctx.region],
      ['data host', await found(async () => { const h = await ctx.host(); return `${h.instanceId} (${h.state}, stack ${h.stackName ?? '?'})`; })],
      ['data volume', await found(() => ctx.dataVolumeId())],
      ...await Promise.all(host.UNITS.map(async (n): Promise<[string, string]> => [`${n} logs`, await found(() => ctx.logGroup(n))])),
      ['secrets path', await found(() => ctx.hostTag(OPS_TAGS.parameterPath, 'SSM path of its secrets'))],
      ['database', await found(async () => `${await ctx.hostTag(OPS_TAGS.database, 'database')} (role ${await ctx.hostTag(OPS_TAGS.databaseUser, 'database role')})`)],
      ['api release', await found(async () => `s3://${await ctx.hostTag(OPS_TAGS.release, 'API release')}`)],
      ['health (host)', await found(() => ctx.hostTag(OPS_TAGS.healthUrl, 'health URL on the host'))],
      ['health (public)', ctx.options.healthUrl ?? '(not set: --url, or healthUrl in cdk.json "shtetl-ops")'],
      ['backups', await found(async () => { const r = await ctx.backupRepository(); return `s3://${r.bucket}/${r.prefix}`; })],
      ['site distribution', await found(() => ctx.distributionId())],
    ];
    for (const [name, value] of rows) ctx.io.out(`${name.padEnd(18)} ${value}`);
    return 0;
  },
};

const services: CommandSpec = {
  summary: 'list the services whose resources are tagged in the region (the values of shtetl:service)',
  usage: 'services',
  options: [],
  serviceless: true,
  async run(ctx) {
    const names = await ctx.taggedServices(true);
    if (names.length === 0) ctx.io.err(`Nothing in ${ctx.region} is tagged ${OPS_TAGS.service}: check --region and the account of your credentials.`);
    for (const name of names) ctx.io.out(name);
    return names.length ? 0 : 1;
  },
};

const shell: CommandSpec = {
  summary: 'a root-capable shell on the host (Session Manager; replaces SSH)',
  usage: 'shell [--print]',
  options: ['print'],
  async run(ctx, args) {
    const id = (await ctx.host()).instanceId;
    return session(ctx, ['ssm', 'start-session', '--region', ctx.region, '--target', id], args.values.print === true,
      ['(needs the AWS CLI v2 and its Session Manager plugin; `sudo -i` for root; exit to leave)']);
  },
};

const psql: CommandSpec = {
  summary: 'forward PostgreSQL to localhost (Session Manager port forwarding) and print the psql command',
  usage: 'psql [--local-port 15432] [--print]',
  options: ['local-port', 'print'],
  async run(ctx, args) {
    const id = (await ctx.host()).instanceId;
    const port = str(args, 'local-port') ?? '15432';
    if (!/^\d{2,5}$/.test(port) || Number(port) > 65535) throw new UsageError(`--local-port "${port}" is not a port number.`);
    const prefix = await ctx.hostTag(OPS_TAGS.parameterPath, 'SSM path of its secrets');
    const database = await ctx.hostTag(OPS_TAGS.database, 'database');
    const user = await ctx.hostTag(OPS_TAGS.databaseUser, 'database role');
    return session(ctx, ['ssm', 'start-session', '--region', ctx.region, '--target', id,
      '--document-name', 'AWS-StartPortForwardingSession', '--parameters', JSON.stringify({ portNumber: ['5432'], localPortNumber: [port] })],
    args.values.print === true, [
      'In another terminal, while this runs (Ctrl-C ends the tunnel):',
      `  PGPASSWORD="$(aws ssm get-parameter --region ${ctx.region} --name ${prefix}/postgres-password --with-decryption --query Parameter.Value --output text)" \\`,
      `    psql -h 127.0.0.1 -p ${port} -U ${host.quote(user)} ${host.quote(database)}`,
    ]);
  },
};

const status: CommandSpec = {
  summary: 'systemd status of api, postgresql and redis (or one of them)',
  usage: 'status [api|postgresql|redis|boot]',
  options: [],
  async run(ctx, args) {
    const names: host.UnitName[] = args.positionals[0] ? [unitName(args.positionals[0], true)] : ['api', 'postgresql', 'redis'];
    const result = await runOnHost(ctx, {
      title: 'service status',
      commands: host.status(ctx.service, names),
      timeoutSeconds: 60,
      onFailure: 'Run Command could not read the status: check the host with `shtetl-ops host-status`.',
    });
    printResult(ctx, result);
    const inactive = names.filter((n) => !new RegExp(`^${host.unit(ctx.service, n)}\\s+active$`, 'm').test(result.stdout));
    if (inactive.length) {
      const name = inactive[0];
      ctx.io.err(`\nNot active: ${inactive.map((n) => host.unit(ctx.service, n)).join(', ')}. Next: \`shtetl-ops logs ${name} -n 200\`, then \`shtetl-ops restart ${name}\`.`);
      return 1;
    }
    return 0;
  },
};

const restart: CommandSpec = {
  summary: 'restart api, postgresql or redis (api: waits until /health answers)',
  usage: 'restart api|postgresql|redis [--yes]',
  options: [],
  destructive: true,
  async run(ctx, args) {
    const name = unitName(args.positionals[0]);
    const unit = host.unit(ctx.service, name);
    const id = (await ctx.host()).instanceId;
    await confirm(ctx, `Restart ${unit} on ${id} (requests fail for a few seconds)`);
    const result = await runOnHost(ctx, {
      title: `restart ${unit}`,
      commands: host.restart(ctx.service, name),
      timeoutSeconds: 300,
      onFailure: `${unit} did not come back. Read why with \`shtetl-ops logs ${args.positionals[0]} -n 200\` and \`shtetl-ops status ${args.positionals[0]}\`.`,
    });
    printResult(ctx, result);
    ctx.io.err(`${unit} restarted in ${formatSeconds(result.seconds)}.`);
    return 0;
  },
};

const logs: CommandSpec = {
  summary: 'the last N lines of a service\'s log from CloudWatch Logs, or follow it',
  usage: 'logs api|postgresql|redis|boot [-n 100] [--since 1h] [--follow]',
  options: ['lines', 'since', 'follow'],
  async run(ctx, args) {
    const name = unitName(args.positionals[0], true);
    const lines = Number(str(args, 'lines') ?? '100');
    if (!Number.isInteger(lines) || lines < 1) throw new UsageError(`-n "${str(args, 'lines')}" is not a positive number of lines.`);
    const startTime = parseSince(str(args, 'since') ?? '1h', ctx.io.now());
    const logGroupName = await ctx.logGroup(name);
    const seen = new Set<string>();
    const fetchSince = async (from: number): Promise<FilteredLogEvent[]> => {
      const events: FilteredLogEvent[] = [];
      let nextToken: string | undefined;
      do {
        const page = await aws('logs:FilterLogEvents', ctx.region, () => ctx.clients.logs.send(new FilterLogEventsCommand({ logGroupName, startTime: from, nextToken })));
        events.push(...(page.events ?? []).filter((e) => !seen.has(e.eventId ?? '')));
        nextToken = page.nextToken;
      } while (nextToken);
      return events.sort((a, b) => (a.timestamp ?? 0) - (b.timestamp ?? 0));
    };
    const print = (events: FilteredLogEvent[]) => {
      for (const e of events) {
        seen.add(e.eventId ?? '');
        ctx.io.out(`${new Date(e.timestamp ?? 0).toISOString()} ${(e.message ?? '').trimEnd()}`);
      }
    };
    const first = await fetchSince(startTime);
    if (first.length === 0) ctx.io.err(`No ${name} log events in ${logGroupName} since ${new Date(startTime).toISOString()} (try --since 1d).`);
    print(first.slice(-lines));
    for (const e of first) seen.add(e.eventId ?? '');
    if (args.values.follow !== true) return 0;
    let from = Math.max(startTime, ...first.map((e) => e.timestamp ?? 0));
    ctx.io.err(`following ${logGroupName} (Ctrl-C to stop)`);
    while (!ctx.io.signal.aborted) {
      await ctx.io.sleep(2000);
      if (ctx.io.signal.aborted) break;
      const events = await fetchSince(from);
      print(events);
      from = Math.max(from, ...events.map((e) => e.timestamp ?? 0));
    }
    return 0;
  },
};

const resources: CommandSpec = {
  summary: 'disk (/, /data) and memory use, biggest directories and processes',
  usage: 'resources (also: disk, memory)',
  options: [],
  async run(ctx) {
    printResult(ctx, await runOnHost(ctx, {
      title: 'disk and memory',
      commands: host.diskAndMemory(),
      timeoutSeconds: 60,
      onFailure: 'Check the host with `shtetl-ops host-status`.',
    }));
    return 0;
  },
};

const health: CommandSpec = {
  summary: 'the public health URL (through CloudFront and API Gateway) and the API on the host',
  usage: 'health',
  options: [],
  async run(ctx) {
    const url = ctx.options.healthUrl;
    let publicOk = url === undefined;
    const t0 = ctx.io.now().getTime();
    if (url === undefined) {
      ctx.io.err('(no public health URL: pass --url, or set healthUrl in cdk.json "shtetl-ops"; checking the host only)');
    } else {
      try {
        const res = await ctx.io.fetch(url, 10_000);
        publicOk = res.status === 200;
        ctx.io.out(`public  ${url}  HTTP ${res.status} in ${ctx.io.now().getTime() - t0} ms  ${publicOk ? 'healthy' : `NOT healthy: ${res.body.slice(0, 200)}`}`);
      } catch (error) {
        ctx.io.out(`public  ${url}  FAILED: ${(error as Error).message}`);
      }
    }
    let hostOk = false;
    const localUrl = await ctx.hostTag(OPS_TAGS.healthUrl, 'health URL on the host');
    try {
      const result = await runOnHost(ctx, {
        title: 'health on the host',
        commands: host.hostHealth(localUrl),
        timeoutSeconds: 30,
        onFailure: 'The API does not answer on the host: `shtetl-ops status api`, `shtetl-ops logs api -n 200`, then `shtetl-ops restart api`.',
      });
      hostOk = /HTTP 200/.test(result.stdout);
      ctx.io.out(`host    ${localUrl}  ${result.stdout.trim().split('\n').reverse().join('  ')}`);
    } catch (error) {
      ctx.io.out(`host    ${localUrl}  FAILED: ${(error as Error).message.split('\n')[0]}`);
      ctx.io.err((error as OpsError).hint ?? '');
    }
    if (publicOk && hostOk) return 0;
    if (hostOk) {
      ctx.io.err('The API is healthy on the host but not through the public URL: look at CloudFront and API Gateway 5xx (and the origin-verify rotation alarms) in CloudWatch.');
    } else if (!publicOk) {
      ctx.io.err('Next: `shtetl-ops status`, `shtetl-ops logs api -n 200`, `shtetl-ops restart api`.');
    }
    return 1;
  },
};

const backup: CommandSpec = {
  summary: 'back up now (every backup source, or one)',
  usage: 'backup [--source NAME]',
  options: ['source'],
  async run(ctx, args) {
    const result = await runOnHost(ctx, {
      title: 'backup',
      commands: host.backupNow(sourceName(args)),
      timeoutSeconds: 2 * HOUR,
      onFailure: 'No good snapshot was written for the failed source (restic-backups keeps none). Exit 77: wrong restic password; 78: repository or configuration missing; 75: repository locked by another backup (retry later).',
    });
    printResult(ctx, result);
    ctx.io.err(`backup done in ${formatSeconds(result.seconds)}.`);
    return 0;
  },
};

const snapshots: CommandSpec = {
  summary: 'list the restic snapshots in the backup repository',
  usage: 'snapshots [--source NAME]',
  options: ['source'],
  async run(ctx, args) {
    printResult(ctx, await runOnHost(ctx, {
      title: 'list snapshots',
      commands: host.snapshots(sourceName(args)),
      timeoutSeconds: 600,
      onFailure: 'restic could not read the repository: see the message above (wrong password: exit 77; no repository: 78).',
    }));
    return 0;
  },
};

const restore: CommandSpec = {
  summary: 'restore the database from a backup: restore into a new database, verify it, swap it in',
  usage: 'restore [--snapshot ID] [--before TIME] [--database NAME] [--yes]',
  options: ['snapshot', 'before', 'database'],
  destructive: true,
  async run(ctx, args) {
    const opts = {
      snapshot: checked(args, 'snapshot', SNAPSHOT_ID, 'a restic snapshot id (8 to 64 hex digits, from `shtetl-ops snapshots`)'),
      before: checked(args, 'before', TIME, 'a time like 2026-11-25 or 2026-11-25T12:00Z'),
      database: checked(args, 'database', DATABASE, 'a database name (lowercase letters, digits, _)'),
    };
    const which = opts.snapshot ? `snapshot ${opts.snapshot}` : opts.before ? `the newest snapshot before ${opts.before}` : 'the newest snapshot';
    const database = opts.database ?? await ctx.hostTag(OPS_TAGS.database, 'database');
    await confirm(ctx, `Replace database ${database} of ${ctx.service} with ${which} (the current one is kept, renamed *_before_restore_*, and its connections are ended)`);
    const result = await runOnHost(ctx, {
      title: 'restore',
      commands: host.restore(opts),
      timeoutSeconds: 2 * HOUR,
      onFailure: 'The live database was not touched (a restore that does not verify is never swapped in). Try an older snapshot (`shtetl-ops snapshots`, then --snapshot ID), or a volume snapshot (docs/operations.md, "Restoring /data from a snapshot").',
    });
    printResult(ctx, result);
    ctx.io.err(`restore done in ${formatSeconds(result.seconds)}. Check the site (\`shtetl-ops health\`), then drop the *_before_restore_* database from \`shtetl-ops psql\`.`);
    return 0;
  },
};

const drill: CommandSpec = {
  summary: 'restore drill: restore the newest backup into a scratch database, verify, drop it',
  usage: 'drill [--database NAME]',
  options: ['database'],
  async run(ctx, args) {
    const result = await runOnHost(ctx, {
      title: 'restore drill',
      commands: host.drill(checked(args, 'database', DATABASE, 'a database name (lowercase letters, digits, _)')),
      timeoutSeconds: 2 * HOUR,
      onFailure: 'The newest backup did NOT restore: treat it as an outage of the backups. Run `shtetl-ops backup`, then the drill again; if it fails again, read the messages above and `shtetl-ops snapshots`.',
    });
    printResult(ctx, result);
    ctx.io.err(`restore drill passed in ${formatSeconds(result.seconds)} (this is the database's restore time).`);
    return 0;
  },
};

const redisFlush: CommandSpec = {
  summary: 'empty the Redis cache (FLUSHDB)',
  usage: 'redis-flush [--yes]',
  options: [],
  destructive: true,
  async run(ctx) {
    await confirm(ctx, 'Delete every key of the Redis cache (the API refills it; expect slower responses for a while)');
    printResult(ctx, await runOnHost(ctx, {
      title: 'redis flush',
      commands: host.redisFlush(ctx.service),
      timeoutSeconds: 60,
      onFailure: 'Redis did not answer: `shtetl-ops status redis`, `shtetl-ops logs redis`.',
    }));
    return 0;
  },
};

const invalidate: CommandSpec = {
  summary: 'invalidate CloudFront paths (default /*) and wait until done',
  usage: 'invalidate [--paths /* ...] [--distribution-id ID] [--no-wait]',
  options: ['paths', 'no-wait', 'distribution-id'],
  async run(ctx, args) {
    const paths = (args.values.paths as string[] | undefined) ?? ['/*'];
    for (const p of paths) if (!p.startsWith('/')) throw new UsageError(`Path "${p}" must start with "/".`, 'Use e.g. --paths "/*" or --paths /index.html.');
    const id = checked(args, 'distribution-id', /^E[A-Z0-9]{5,20}$/, 'a CloudFront distribution id (E...)') ?? await ctx.distributionId();
    const created = await aws('cloudfront:CreateInvalidation', ctx.region, () => ctx.clients.cloudFront.send(new CreateInvalidationCommand({
      DistributionId: id,
      InvalidationBatch: { CallerReference: `shtetl-ops-${ctx.io.now().getTime()}`, Paths: { Quantity: paths.length, Items: paths } },
    })));
    const invalidationId = created.Invalidation?.Id!;
    ctx.io.err(`invalidation ${invalidationId} of ${paths.join(' ')} on ${id} created`);
    if (args.values['no-wait'] === true) return 0;
    const started = ctx.io.now().getTime();
    for (;;) {
      await ctx.io.sleep(5000);
      const got = await aws('cloudfront:GetInvalidation', ctx.region, () => ctx.clients.cloudFront.send(new GetInvalidationCommand({ DistributionId: id, Id: invalidationId })));
      const elapsed = (ctx.io.now().getTime() - started) / 1000;
      if (got.Invalidation?.Status === 'Completed') {
        ctx.io.out(`invalidation ${invalidationId} completed in ${formatSeconds(elapsed)}`);
        return 0;
      }
      if (elapsed > 20 * 60) {
        throw new OpsError(`Invalidation ${invalidationId} is still ${got.Invalidation?.Status} after 20 minutes.`, 'It usually completes later on its own; check it with `aws cloudfront get-invalidation`.');
      }
      ctx.io.err(`  ... ${got.Invalidation?.Status} (${formatSeconds(elapsed)})`);
    }
  },
};

const deployApi: CommandSpec = {
  summary: 'deploy an API release: upload a binary (--file), roll back to a version (--version-id), or redeploy the current one',
  usage: 'deploy-api [--file ./api-linux-arm64 | --version-id S3VERSION] [--yes]',
  options: ['file', 'version-id'],
  destructive: true,
  async run(ctx, args) {
    const file = str(args, 'file');
    const versionId = str(args, 'version-id');
    if (file && versionId) throw new UsageError('Give either --file or --version-id, not both.');
    const release = await ctx.hostTag(OPS_TAGS.release, 'the S3 location of its API release; the host has a release bucket only when releaseBucket is set');
    const slash = release.indexOf('/');
    const bucket = release.slice(0, slash);
    const key = release.slice(slash + 1);
    if (slash < 1 || !key) throw new OpsError(`The host's ${OPS_TAGS.release} tag "${release}" is not BUCKET/KEY.`, 'Deploy the stack again with the current constructs.');
    const api = host.unit(ctx.service, 'api');
    const what = file ? `the release ${file}` : versionId ? `version ${versionId} of s3://${bucket}/${key}` : `the current s3://${bucket}/${key}`;
    await confirm(ctx, `Deploy ${what} to ${api} (restarts the API)`);
    if (file) {
      let body: Buffer;
      try {
        body = ctx.io.readFile(file);
      } catch (error) {
        throw new OpsError(`Cannot read ${file}: ${(error as Error).message}.`, 'Build the API for linux/arm64 first (GOOS=linux GOARCH=arm64 go build -o api-linux-arm64 ./cmd/api).');
      }
      if (!(body[0] === 0x7f && body.toString('latin1', 1, 4) === 'ELF')) {
        throw new OpsError(`${file} is not a Linux executable (no ELF header).`, 'Build it with GOOS=linux GOARCH=arm64 for the Graviton host.');
      }
      const put = await aws('s3:PutObject', ctx.region, () => ctx.clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ChecksumAlgorithm: 'SHA256' })));
      ctx.io.err(`uploaded ${file} (${body.length} bytes) as version ${put.VersionId}`);
    } else if (versionId) {
      const copied = await aws('s3:CopyObject', ctx.region, () => ctx.clients.s3.send(new CopyObjectCommand({
        Bucket: bucket, Key: key, CopySource: `${bucket}/${key}?versionId=${encodeURIComponent(versionId)}`,
      })));
      ctx.io.err(`version ${versionId} is current again (as version ${copied.VersionId})`);
    }
    const result = await runOnHost(ctx, {
      title: `deploy ${api}`,
      commands: host.deployApi(ctx.service),
      timeoutSeconds: 600,
      onFailure: 'The new release did not answer /health. Roll back: `aws s3api list-object-versions --bucket '
        + `${bucket} --prefix ${key}\`, then \`shtetl-ops deploy-api --version-id PREVIOUS\`.`,
    });
    printResult(ctx, result);
    ctx.io.err(`deployed in ${formatSeconds(result.seconds)}.`);
    return 0;
  },
};

async function describeHost(ctx: OpsContext, id: string): Promise<Instance | undefined> {
  try {
    const res = await ctx.clients.ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    return res.Reservations?.[0]?.Instances?.[0];
  } catch (error) {
    if ((error as Error).name === 'InvalidInstanceID.NotFound') return undefined;
    throw explainAwsError(error, 'ec2:DescribeInstances', ctx.region);
  }
}

const hostStatus: CommandSpec = {
  summary: 'the instance from AWS\'s side: state, status checks, SSM agent, /data volume',
  usage: 'host-status',
  options: [],
  async run(ctx) {
    const id = (await ctx.host()).instanceId;
    const instance = await describeHost(ctx, id);
    ctx.io.out(`instance  ${id}  ${instance ? `${instance.State?.Name}, ${instance.InstanceType}, ${instance.Placement?.AvailabilityZone}, launched ${instance.LaunchTime?.toISOString?.() ?? ''}` : 'NOT FOUND'}`);
    const info = await aws('ssm:DescribeInstanceInformation', ctx.region, () => ctx.clients.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] })));
    const ping = info.InstanceInformationList?.[0];
    ctx.io.out(`ssm agent ${ping ? `${ping.PingStatus} (last ping ${ping.LastPingDateTime?.toISOString?.() ?? '?'}, agent ${ping.AgentVersion})` : 'not registered'}`);
    const volumeId = await ctx.dataVolumeId();
    const vol = (await aws('ec2:DescribeVolumes', ctx.region, () => ctx.clients.ec2.send(new DescribeVolumesCommand({ VolumeIds: [volumeId] })))).Volumes?.[0];
    const att = vol?.Attachments?.[0];
    ctx.io.out(`/data     ${volumeId}  ${vol?.State ?? 'NOT FOUND'}${att ? `, attached to ${att.InstanceId} (${att.State})` : ', not attached'}, ${vol?.Size ?? '?'} GiB`);
    const ok = instance?.State?.Name === 'running' && ping?.PingStatus === 'Online' && att?.InstanceId === id;
    if (!ok) ctx.io.err('The host is not fully up. If it is impaired or stuck: `shtetl-ops replace-instance`; if it is gone: docs/operations.md, "Disaster recovery > EC2 failure".');
    return ok ? 0 : 1;
  },
};

async function waitFor(ctx: OpsContext, what: string, timeoutSeconds: number, check: () => Promise<string | undefined>): Promise<void> {
  const started = ctx.io.now().getTime();
  let last = ctx.io.now().getTime();
  for (;;) {
    const state = await check();
    if (state === undefined) return;
    const elapsed = (ctx.io.now().getTime() - started) / 1000;
    if (elapsed > timeoutSeconds) {
      throw new OpsError(`Timed out after ${formatSeconds(elapsed)} waiting for ${what} (still ${state}).`,
        'Look at the instance in the EC2 console (system log, status checks); the data volume is unaffected.');
    }
    if (ctx.io.now().getTime() - last >= 15_000) {
      ctx.io.err(`  ... waiting for ${what}: ${state} (${formatSeconds(elapsed)})`);
      last = ctx.io.now().getTime();
    }
    await ctx.io.sleep(5000);
  }
}

const replaceInstance: CommandSpec = {
  summary: 'move the host to new hardware (stop, start; /data, address and id stay) and wait until the API is healthy',
  usage: 'replace-instance [--yes]',
  options: [],
  destructive: true,
  async run(ctx) {
    const live = await ctx.host();
    const id = live.instanceId;
    const healthUrl = await ctx.hostTag(OPS_TAGS.healthUrl, 'health URL on the host');
    const instance = await describeHost(ctx, id);
    const state = instance?.State?.Name;
    if (!instance || state === 'terminated' || state === 'shutting-down') {
      throw new OpsError(`Instance ${id} is ${state ?? 'gone'}: there is nothing to restart.`,
        `Deploy a new instance: it is replaced when its image, type or user data changes; deploy its stack (${live.stackName ?? 'the stack of the host'}) and the new instance attaches /data itself (docs/operations.md, "Disaster recovery > EC2 failure").`);
    }
    await confirm(ctx, `Stop and start ${id} (${state}) so that it moves to new hardware; the API is down for about 3 to 5 minutes`);
    const t0 = ctx.io.now().getTime();
    const stateOf = async () => (await describeHost(ctx, id))?.State?.Name ?? 'gone';
    if (state !== 'stopped') {
      await aws('ec2:StopInstances', ctx.region, () => ctx.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [id] })));
      ctx.io.err(`stopping ${id} (PostgreSQL shuts down cleanly)`);
      try {
        await waitFor(ctx, `${id} to stop`, 600, async () => { const s = await stateOf(); return s === 'stopped' ? undefined : s; });
      } catch (error) {
        ctx.io.err(`${id} did not stop in 10 minutes: forcing the stop (like pulling the plug; PostgreSQL recovers from its WAL).`);
        await aws('ec2:StopInstances', ctx.region, () => ctx.clients.ec2.send(new StopInstancesCommand({ InstanceIds: [id], Force: true })));
        await waitFor(ctx, `${id} to stop (forced)`, 600, async () => { const s = await stateOf(); return s === 'stopped' ? undefined : s; });
      }
    }
    await aws('ec2:StartInstances', ctx.region, () => ctx.clients.ec2.send(new StartInstancesCommand({ InstanceIds: [id] })));
    ctx.io.err(`starting ${id} on new hardware`);
    await waitFor(ctx, `${id} to run`, 600, async () => { const s = await stateOf(); return s === 'running' ? undefined : s; });
    await waitFor(ctx, 'the SSM agent', 600, async () => {
      const info = await aws('ssm:DescribeInstanceInformation', ctx.region, () => ctx.clients.ssm.send(new DescribeInstanceInformationCommand({ Filters: [{ Key: 'InstanceIds', Values: [id] }] })));
      const ping = info.InstanceInformationList?.[0]?.PingStatus;
      return ping === 'Online' ? undefined : ping ?? 'not registered';
    });
    const result = await runOnHost(ctx, {
      title: 'wait for the API',
      commands: host.waitForApi(ctx.service, healthUrl),
      timeoutSeconds: 400,
      onFailure: 'The boot did not bring the API up: `shtetl-ops logs boot -n 100` says why (a missing secret, the data volume).',
    });
    printResult(ctx, result);
    ctx.io.out(`${id} is running on new hardware with /data attached; the API is healthy (${formatSeconds((ctx.io.now().getTime() - t0) / 1000)}).`);
    return 0;
  },
};

const regionFailover: CommandSpec = {
  summary: 'complete region failure: check the replicated backups in the other region and print the rebuild steps',
  usage: 'region-failover [--replica-bucket NAME] [--target-region REGION] [--repository-prefix restic] [--ssm-prefix /SERVICE/ENV]',
  options: ['replica-bucket', 'target-region', 'repository-prefix', 'ssm-prefix'],
  async run(ctx, args) {
    // The primary region may be down: options first; what the primary region says is a fallback.
    const orUndefined = async <T>(lookup: () => Promise<T>): Promise<T | undefined> => {
      try {
        return await lookup();
      } catch {
        return undefined;
      }
    };
    // Skipped when the options say everything it would tell (its region may not answer).
    const repository = str(args, 'replica-bucket') && str(args, 'repository-prefix') !== undefined ? undefined : await orUndefined(() => ctx.backupRepository());
    const replicaArn = str(args, 'replica-bucket') ? undefined : repository && await orUndefined(async () => {
      const rules = await ctx.clients.s3.send(new GetBucketReplicationCommand({ Bucket: repository.bucket }));
      return rules.ReplicationConfiguration?.Rules?.find((r) => r.Status === 'Enabled')?.Destination?.Bucket;
    });
    const bucket = checked(args, 'replica-bucket', /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'an S3 bucket name') ?? replicaArn?.replace(/^arn:[^:]+:s3:::/, '');
    const target = checked(args, 'target-region', /^[a-z]{2}(-[a-z]+)+-\d$/, 'an AWS region name') ?? (bucket && await orUndefined(async () => {
      // GetBucketLocation answers from any region; us-east-1 is the global endpoint (empty constraint).
      const location = await ctx.clients.globalS3.send(new GetBucketLocationCommand({ Bucket: bucket }));
      return location.LocationConstraint || 'us-east-1';
    }));
    if (!bucket || !target) {
      throw new UsageError(`The replica bucket and its region are needed, and ${ctx.where} could not tell them (its region may be down).`,
        'Pass --replica-bucket and --target-region (note them in your runbook: the replication destination of the backup bucket).');
    }
    const ssmPrefix = checked(args, 'ssm-prefix', /^(\/[A-Za-z0-9_.-]+)+$/, 'an SSM path like /my-service/prod')
      ?? await orUndefined(() => ctx.hostTag(OPS_TAGS.parameterPath, 'SSM path of its secrets'));
    if (!ssmPrefix) {
      throw new UsageError('The SSM path of the secrets is needed (the host in the primary region cannot be read).', 'Pass --ssm-prefix, e.g. --ssm-prefix /my-service/prod.');
    }
    // ResticBackups' default repositoryPrefix is `restic`.
    const repoPrefix = (str(args, 'repository-prefix') ?? repository?.prefix ?? 'restic').replace(/\/*$/, '/').replace(/^\/$/, '');
    const s3 = new S3Client({ region: target });
    let newest: Date | undefined;
    let count = 0;
    let token: string | undefined;
    do {
      const page: ListObjectsV2CommandOutput = await aws('s3:ListBucket', target, () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${repoPrefix}snapshots/`, ContinuationToken: token })));
      for (const o of page.Contents ?? []) {
        count++;
        if (o.LastModified && (!newest || o.LastModified > newest)) newest = o.LastModified;
      }
      token = page.NextContinuationToken;
    } while (token);
    if (count === 0 || !newest) {
      throw new OpsError(`No restic snapshot in s3://${bucket}/${repoPrefix}snapshots/ (${target}).`,
        'Replication is not working or the prefix is wrong (--repository-prefix): check the bucket\'s replication status in the S3 console before relying on it.');
    }
    const ageHours = (ctx.io.now().getTime() - newest.getTime()) / 3600e3;
    ctx.io.out(`replica   s3://${bucket} (${target}): ${count} snapshots, newest ${newest.toISOString()} (${ageHours.toFixed(1)} h old: the data loss if you fail over now)`);
    const ssm = new SSMClient({ region: target });
    const params = await aws('ssm:DescribeParameters', target, () => ssm.send(new DescribeParametersCommand({ ParameterFilters: [{ Key: 'Name', Option: 'Equals', Values: [`${ssmPrefix}/restic-password`] }] })));
    const hasPassword = (params.Parameters ?? []).length > 0;
    ctx.io.out(`password  ${ssmPrefix}/restic-password in ${target}: ${hasPassword ? 'present' : 'MISSING (the backups cannot be decrypted without it: take it from the offline copy)'}`);
    const az = `${target}a`;
    const steps = [
      `Bootstrap the region once: npx cdk bootstrap aws://ACCOUNT/${target}`,
      `Put the secrets in ${target}: restic-password (the SAME value as before), and the operator secrets (docs/deploying.md, "Secrets") with --region ${target}; the generated ones are created by the deploy.`,
      `Deploy the app there, in ${target} (availability zone e.g. ${az}), the way your app selects its region (a new, empty /data is created)`,
      `Replace the empty repository the new host created with the replica: aws s3 sync s3://${bucket}/${repoPrefix} s3://NEW_BUCKET/${repoPrefix} --delete --region ${target} (NEW_BUCKET: backups in \`shtetl-ops --service ${ctx.service} --region ${target} outputs\`)`,
      `Restore the database: shtetl-ops --service ${ctx.service} --region ${target} restore --yes, then shtetl-ops --service ${ctx.service} --region ${target} health`,
      'Move the domain: a CloudFront alias lives on one distribution only. Delete the old A/AAAA alias records in Route 53 and move the alias to the new distribution (aws cloudfront associate-alias), or remove it from the old distribution before deploying the site stack.',
      'When the old region is back: compare, then delete the old stacks deliberately; the retained data volume and buckets stay until deleted by hand.',
    ];
    ctx.io.out('\nManual steps (docs/operations.md, "Disaster recovery > Complete region failure"):');
    steps.forEach((s, i) => ctx.io.out(`  ${i + 1}. ${s}`));
    return hasPassword ? 0 : 1;
  },
};

/** Every command, by name (aliases point at the same spec). */
export const COMMANDS: { [name: string]: CommandSpec } = {
  'services': services,
  'outputs': outputs,
  'shell': shell,
  'psql': psql,
  'status': status,
  'restart': restart,
  'logs': logs,
  'resources': resources,
  'disk': resources,
  'memory': resources,
  'health': health,
  'host-status': hostStatus,
  'backup': backup,
  'snapshots': snapshots,
  'restore': restore,
  'drill': drill,
  'redis-flush': redisFlush,
  'invalidate': invalidate,
  'deploy-api': deployApi,
  'replace-instance': replaceInstance,
  'region-failover': regionFailover,
};
