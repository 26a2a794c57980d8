import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { offlineEnv } from './offline-env';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { CAPACITY_PROFILES } from '../../src/zmanim/profiles';
import { createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';

/**
 * Synth with an account needs neither credentials nor network: no stack asks the CDK CLI for
 * a look-up (a "missing" context entry in the cloud assembly is exactly that request).
 */
const root = join(__dirname, '..', '..');
const ACCOUNT = '123456789012';

test.each(CAPACITY_PROFILES)('the %s profile with an account asks for no look-up', (capacityProfile) => {
  const app = new App({ context: appContext() });
  createZmanimStacks(app, { ...DEFAULT_CONFIG, account: ACCOUNT, capacityProfile });
  expect(app.synth().manifest.missing).toBeUndefined();
});

test('npx projen synth -c zmanim:account=... without credentials or network succeeds and writes no cdk.context.json', () => {
  const outdir = mkdtempSync(join(tmpdir(), 'zmanim-offline-synth-'));
  const contextFile = join(root, 'cdk.context.json');
  const before = existsSync(contextFile) ? readFileSync(contextFile, 'utf8') : undefined;
  try {
    const result = spawnSync('npx', ['projen', 'synth', '--no-notices', '-o', outdir, '-c', `zmanim:account=${ACCOUNT}`], {
      cwd: root, encoding: 'utf8', env: offlineEnv(), timeout: 600_000,
    });
    expect({ status: result.status, stderr: result.status === 0 ? '' : result.stderr }).toEqual({ status: 0, stderr: '' });
    const manifest = JSON.parse(readFileSync(join(outdir, 'manifest.json'), 'utf8'));
    expect(manifest.missing).toBeUndefined();
    const network = JSON.parse(readFileSync(join(outdir, 'ZmanimProdNetwork.template.json'), 'utf8'));
    const zones = Object.values<any>(network.Resources).filter((r) => r.Type === 'AWS::EC2::Subnet').map((r) => r.Properties.AvailabilityZone);
    expect(zones).toEqual([DEFAULT_CONFIG.availabilityZone]);
    // The account is real, so the app says up front that this synth is not deployable as it is.
    expect(result.stderr).toContain(`Warning: this synth for account ${ACCOUNT} is not deployable (site.openNextPath, hostedZone.zoneId)`);
    // cdk.json sets every recommended feature flag (.projenrc.ts), so the CLI has none to report.
    expect(result.stdout + result.stderr).not.toContain('feature flags are not configured');
    expect(existsSync(contextFile) ? readFileSync(contextFile, 'utf8') : undefined).toBe(before);
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});
