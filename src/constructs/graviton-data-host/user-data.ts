import { cloudConfigBlockFile } from '../../internal/cloud-config';
import { ZipEntry } from '../../internal/zip';
import { HostFile } from '../managed-host';

/** Everything the host's cloud-config carries; rendered by {@link renderCloudConfig}. */
export interface HostCloudConfig {
  /** The service name: paths /etc/<service>, /opt/<service>, the bootstrap's name. */
  readonly serviceName: string;
  /** The construct's path, named in the header comment. */
  readonly constructPath: string;
  /** host.env: the host's settings (already prefixed), in order. */
  readonly hostEnv: { [name: string]: string };
  /** api-settings.env: the API's non-secret environment. */
  readonly apiSettings: string;
  /** The bootstrap script (host/bootstrap.sh), which fetches and verifies the rest. */
  readonly bootstrapScript: string;
  /** Shell lines added with addBootCommands, run at every boot. */
  readonly bootCommands: string[];
  /** Files whose content has tokens, so they cannot be in an S3 asset built at synth time. */
  readonly inlineFiles: HostFile[];
}

/** The cloud-config user data: host.env, the bootstrap script, inline files, boot commands. */
export function renderCloudConfig(c: HostCloudConfig): string {
  const service = c.serviceName;
  const files: string[] = [
    cloudConfigBlockFile(`/etc/${service}/host.env`, '0644', Object.entries(c.hostEnv).map(([k, v]) => `${k}="${v}"`).join('\n') + '\n'),
    cloudConfigBlockFile(`/etc/${service}/api-settings.env`, '0644', c.apiSettings),
    cloudConfigBlockFile(`/usr/local/sbin/${service}-bootstrap`, '0755', c.bootstrapScript),
  ];
  if (c.bootCommands.length > 0) {
    files.push(cloudConfigBlockFile(`/etc/${service}/boot.d/50-boot-commands.sh`, '0700',
      ['#!/usr/bin/env bash', '# Added with GravitonDataHost.addBootCommands', 'set -euo pipefail', ...c.bootCommands].join('\n') + '\n'));
  }
  for (const file of c.inlineFiles) {
    files.push([
      `  - path: ${file.path}`,
      `    owner: ${file.owner ?? 'root:root'}`,
      `    permissions: '${file.mode ?? '0644'}'`,
      `    content: ${JSON.stringify(file.content)}`,
    ].join('\n'));
  }
  return [
    '#cloud-config',
    `# GravitonDataHost ${c.constructPath}: boot scripts in /opt/${service}/host, log in /var/log/${service}/boot.log`,
    'write_files:',
    ...files,
    'runcmd:',
    `  - [bash, /usr/local/sbin/${service}-bootstrap, ${service}]`,
    '',
  ].join('\n');
}

/** api-settings.env: the browser origins and the API's further non-secret variables. */
export function renderApiSettings(allowedOrigins: string[], apiEnvironment: { [name: string]: string }): string {
  return [`ALLOWED_ORIGINS=${allowedOrigins.join(',')}`, ...Object.entries(apiEnvironment).map(([k, v]) => `${k}=${v}`)].join('\n') + '\n';
}

/**
 * The MANIFEST of a files asset: one `MODE OWNER PATH` line per file, which the bootstrap
 * installs from `files/PATH` in the zip.
 */
export function renderFilesManifest(files: HostFile[]): string {
  return files.map((file) => `${file.mode ?? '0644'} ${file.owner ?? 'root:root'} ${file.path}`).join('\n') + '\n';
}

/**
 * Token-free files as the entries of a files zip: `files/PATH` each, and the `MANIFEST` that
 * says how the bootstrap installs them (the mode is applied from there, not from the zip).
 */
export function hostFilesZipEntries(files: HostFile[]): ZipEntry[] {
  return [
    ...files.map((file) => ({ name: `files/${file.path.replace(/^\/+/, '')}`, data: Buffer.from(file.content), executable: false })),
    { name: 'MANIFEST', data: Buffer.from(renderFilesManifest(files)), executable: false },
  ];
}
