import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ResticBackupsProps } from './restic-backups';
import { scheduleFor, sourceConfig } from './source-config';
import { shellQuote } from '../../internal/shell';
import { HostFile } from '../managed-host';

/** The backup tool; read at synth time (the build copies host/ beside the compiled module). */
const TOOL_PATH = join(__dirname, 'host', 'restic-backups');
/** Its modules (python3, stdlib only). */
const MODULES_DIR = join(__dirname, 'host', 'restic_backups');
const PIECES_PATH = join(__dirname, 'host', 'restic-backups-pieces');
const INSTALL_PATH = '/usr/local/sbin/restic-backups';
/** The tool looks for its modules in ../lib/restic-backups (FHS: programs in sbin, their code in lib). */
const MODULES_INSTALL_DIR = '/usr/local/lib/restic-backups/restic_backups';
/** The tool finds the pieces tool beside itself. */
const PIECES_INSTALL_PATH = '/usr/local/sbin/restic-backups-pieces';
const CONFIG_DIR = '/etc/restic-backups';
const UNIT_DIR = '/etc/systemd/system';

/** What the construct decided that the host's files name (tokens allowed). */
export interface ResticHostSettings {
  /** restic's `-r`: `s3:https://s3.REGION.URL_SUFFIX/BUCKET/PREFIX`. */
  readonly repository: string;
  readonly region: string;
  readonly backupSetName: string;
  readonly metricsNamespace: string;
  /** The drill's OnCalendar expression; '' for no drill. */
  readonly drillSchedule: string;
}

/** What {@link renderHostInstall} puts on the host: files (written before) and boot commands. */
export interface ResticHostInstall {
  readonly files: HostFile[];
  readonly bootCommands: string[];
}

/**
 * Everything ResticBackups installs on its host: the configuration, the tool and its modules (and the pieces
 * tool when a source uses pieces), one systemd service and timer per source, the prune, check
 * and drill timers, and the boot commands that remove what is no longer configured, create
 * the repository and enable the timers.
 */
export function renderHostInstall(props: ResticBackupsProps, settings: ResticHostSettings): ResticHostInstall {
  const spool = props.spoolDirectory ?? '/var/lib/restic-backups';
  const drill = settings.drillSchedule;
  const files: HostFile[] = [];
  const env = (name: string, value: string, overridable = false) =>
    overridable ? `[[ -v ${name} ]] || ${name}=${shellQuote(value)}` : `${name}=${shellQuote(value)}`;
  // Tokens (bucket, region) make this file part of user data, so it stays small.
  files.push({
    path: `${CONFIG_DIR}/restic-backups.env`,
    mode: '0600',
    content: [
      '# Written by the ResticBackups construct. Variables set in the environment win.',
      env('RESTIC_REPOSITORY', settings.repository),
      env('RESTIC_PASSWORD_COMMAND', `aws ssm get-parameter --region ${settings.region} --name ${props.passwordParameterName} --with-decryption --query Parameter.Value --output text`, true),
      env('RESTIC_BACKUPS_SET', settings.backupSetName),
      env('RESTIC_BACKUPS_NAMESPACE', settings.metricsNamespace),
      env('RESTIC_BACKUPS_PUT_METRIC_COMMAND', `aws cloudwatch put-metric-data --region ${settings.region}`, true),
      env('RESTIC_BACKUPS_CHECK_SUBSETS', String(props.checkDataSubsets ?? 7)),
      env('RESTIC_BACKUPS_PG_OS_USER', props.postgresOsUser ?? 'postgres'),
      env('RESTIC_BACKUPS_SPOOL_DIR', spool),
      env('RESTIC_BACKUPS_DRILL', drill ? '1' : '0'),
      env('AWS_REGION', settings.region),
      `PGHOST=${shellQuote(props.postgresSocketDirectory ?? '/run/postgresql')} PGPORT=${props.postgresPort ?? 5432}`,
      'export AWS_REGION PGHOST PGPORT',
      '',
    ].join('\n'),
  });
  files.push({ path: INSTALL_PATH, mode: '0755', content: readFileSync(TOOL_PATH, 'utf8') });
  for (const module of readdirSync(MODULES_DIR).filter((f) => f.endsWith('.py')).sort()) {
    files.push({ path: `${MODULES_INSTALL_DIR}/${module}`, mode: '0644', content: readFileSync(join(MODULES_DIR, module), 'utf8') });
  }
  if (props.sources.some((s) => s.pieceSize)) {
    files.push({ path: PIECES_INSTALL_PATH, mode: '0755', content: readFileSync(PIECES_PATH, 'utf8') });
  }

  const timers: string[] = [];
  const unit = (description: string, exec: string, timeout: string) => [
    '[Unit]', `Description=${description} (ResticBackups)`, 'After=network-online.target', 'Wants=network-online.target', '',
    // Low priority: backups must not starve the API on a small host.
    '[Service]', 'Type=oneshot', `ExecStart=${exec}`, 'Nice=10', 'IOSchedulingClass=best-effort', 'IOSchedulingPriority=7',
    'CPUWeight=20', `TimeoutStartSec=${timeout}`, '',
  ].join('\n');
  const timer = (name: string, description: string, onCalendar: string, service: string) => {
    timers.push(`${name}.timer`);
    files.push({
      path: `${UNIT_DIR}/${name}.timer`,
      content: ['[Unit]', `Description=${description} (ResticBackups)`, '', '[Timer]', `OnCalendar=${onCalendar}`,
        'Persistent=true', 'RandomizedDelaySec=60', `Unit=${service}`, '', '[Install]', 'WantedBy=timers.target', ''].join('\n'),
    });
  };

  files.push({ path: `${UNIT_DIR}/restic-backups@.service`, content: unit('restic backup of source %i', `${INSTALL_PATH} backup %i`, '6h') });
  for (const source of props.sources) {
    files.push({ path: `${CONFIG_DIR}/sources/${source.name}.env`, mode: '0600', content: sourceConfig(source) });
    // Validation made sure that a source without schedule has a default one.
    timer(`restic-backups-${source.name}`, `restic backup of source ${source.name}`, source.schedule ?? scheduleFor(source.interval)!, `restic-backups@${source.name}.service`);
  }
  for (const [name, description, onCalendar, timeout] of [
    ['forget', 'restic retention (forget and prune)', props.pruneSchedule ?? '*-*-* 04:10:00', '6h'],
    ['check', 'restic repository check', props.checkSchedule ?? '*-*-* 05:10:00', '6h'],
    ['drill', 'restic restore drill', drill, '3h'],
  ]) {
    if (!onCalendar) continue;
    files.push({ path: `${UNIT_DIR}/restic-backups-${name}.service`, content: unit(description, `${INSTALL_PATH} ${name}`, timeout) });
    timer(`restic-backups-${name}`, description, onCalendar, `restic-backups-${name}.service`);
  }

  const sources = props.sources.map((s) => `${s.name}.env`).join(' ');
  const bootCommands = [
    // Sources no longer configured: their files and timers go (idempotent at every boot).
    `for f in ${CONFIG_DIR}/sources/*.env; do case " ${sources} " in *" $(basename "$f") "*) ;; *) rm -f "$f";; esac; done`,
    `for t in ${UNIT_DIR}/restic-backups-*.timer; do case " ${timers.join(' ')} " in *" $(basename "$t") "*) ;; *) systemctl disable --now "$(basename "$t")" || true; rm -f "$t";; esac; done`,
    'command -v restic >/dev/null || { echo "ResticBackups: restic is not installed on this host (install restic 0.14 or newer in the AMI)" >&2; exit 1; }',
    `install -d -m 0700 /var/cache/restic-backups ${shellQuote(spool)}`,
    'systemctl daemon-reload',
    // Creates the repository on first boot; fails the boot on a wrong password.
    `${INSTALL_PATH} init`,
    `systemctl enable --now ${timers.join(' ')}`,
  ];
  return { files, bootCommands };
}
