import { parse } from 'yaml';
import { renderCloudConfig, renderFilesManifest } from '../../src/constructs/graviton-data-host/user-data';

/** The pure renderer of GravitonDataHost's cloud-config, without a stack. */
const base = {
  serviceName: 'kehilla',
  constructPath: 'Stack/Host',
  hostEnv: { KEHILLA_REGION: 'eu-west-1', KEHILLA_API_PORT: '8080' },
  apiSettings: 'ALLOWED_ORIGINS=https://kehilla.example.com\n',
  bootstrapScript: '#!/usr/bin/env bash\nset -euo pipefail\n\necho boot\n',
  bootCommands: [] as string[],
  inlineFiles: [],
};

test('the YAML holds host.env, the settings and the bootstrap byte for byte, and runs the bootstrap', () => {
  const config = parse(renderCloudConfig(base));
  const byPath = Object.fromEntries(config.write_files.map((f: { path: string; content: string }) => [f.path, f]));
  expect(Object.keys(byPath)).toEqual(['/etc/kehilla/host.env', '/etc/kehilla/api-settings.env', '/usr/local/sbin/kehilla-bootstrap']);
  expect(byPath['/etc/kehilla/host.env'].content).toBe('KEHILLA_REGION="eu-west-1"\nKEHILLA_API_PORT="8080"\n');
  expect(byPath['/usr/local/sbin/kehilla-bootstrap'].content).toBe(base.bootstrapScript);
  expect(byPath['/usr/local/sbin/kehilla-bootstrap'].permissions).toBe('0755');
  expect(config.runcmd).toEqual([['bash', '/usr/local/sbin/kehilla-bootstrap', 'kehilla']]);
});

test('boot commands become a boot.d script; inline files keep owner, mode and content (quotes, newlines)', () => {
  const content = 'a "quoted" line\nand: a colon\n';
  const config = parse(renderCloudConfig({ ...base, bootCommands: ['echo one', 'echo two'], inlineFiles: [{ path: '/etc/x.env', content, mode: '0600', owner: 'postgres:postgres' }] }));
  const byPath = Object.fromEntries(config.write_files.map((f: { path: string }) => [f.path, f]));
  expect(byPath['/etc/kehilla/boot.d/50-boot-commands.sh'].content).toBe('#!/usr/bin/env bash\n# Added with GravitonDataHost.addBootCommands\nset -euo pipefail\necho one\necho two\n');
  expect(byPath['/etc/x.env']).toEqual({ path: '/etc/x.env', owner: 'postgres:postgres', permissions: '0600', content });
});

test('the files asset MANIFEST has one "mode owner path" line per file, with the defaults', () => {
  expect(renderFilesManifest([{ path: '/etc/a', content: '' }, { path: '/etc/b', content: '', mode: '0600', owner: 'nobody:nogroup' }]))
    .toBe('0644 root:root /etc/a\n0600 nobody:nogroup /etc/b\n');
});
