import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { OpenNextSite } from '../src';
import { listFiles } from '../src/constructs/open-next-site/open-next-output';
import { ensureFixtureSite } from '../src/zmanim/prepare-assets';

const root = join(__dirname, '..');
const runsArg = process.argv.indexOf('--runs');
const runs = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const print = (name: string, value: number, unit: string, digits = 1) => console.log(`${name}: ${value.toFixed(digits)} ${unit}`);

const openNextPath = ensureFixtureSite(root, (line) => process.stderr.write(line + '\n'));
const serverDir = join(openNextPath, 'server-functions', 'default');

// Sizes: Lambda's limit is 250 MB unzipped; the zip is what each deployment uploads.
const unzipped = listFiles(serverDir).reduce((sum, f) => sum + statSync(join(serverDir, f)).size, 0);
const work = mkdtempSync(join(tmpdir(), 'bench-site-'));
try {
  const zip = join(work, 'server.zip');
  execFileSync('python3', ['-c', `
import os, sys, zipfile
src, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED, compresslevel=9) as z:
    for d, _, files in os.walk(src):
        for f in files:
            p = os.path.join(d, f)
            z.write(p, os.path.relpath(p, src))
`, serverDir, zip]);
  print('server_function_unzipped_size', unzipped / 1e6, 'MB');
  print('server_function_zipped_size', statSync(zip).size / 1e6, 'MB');

  // Cold start: a fresh Node process imports the handler and serves its first request;
  // warm: later requests in the same process (the dynamic page renders every time).
  const colds: number[] = [];
  const warms: number[] = [];
  for (let i = 0; i < runs; i++) {
    process.stderr.write(`invoke run ${i + 1}/${runs}\n`);
    const out = JSON.parse(execFileSync(process.execPath, [join(root, 'test', 'open-next-site', 'invoke-server.mjs'), serverDir,
      ...Array(11).fill('/dynamic')], { maxBuffer: 64 * 1024 * 1024, stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    colds.push(out.importMs + out.results[0].ms);
    warms.push(median(out.results.slice(1).map((r: { ms: number }) => r.ms)));
    if (out.results.some((r: { statusCode: number }) => r.statusCode !== 200)) throw new Error('a request did not answer 200');
  }
  print('server_cold_start_local', median(colds), 'ms', 0);
  print('server_warm_request_local', median(warms), 'ms', 1);

  // Synth of a stack with the site (assets staged into a fresh cdk.out each time).
  const synths: number[] = [];
  for (let i = 0; i < Math.min(runs, 3); i++) {
    const outdir = join(work, `cdk.out.${i}`);
    const t0 = performance.now();
    const app = new App({ outdir });
    new OpenNextSite(new Stack(app, 'Site', { env: { account: '111111111111', region: 'eu-west-1' } }), 'Web', { openNextPath });
    app.synth();
    synths.push(performance.now() - t0);
  }
  print('site_stack_synth', median(synths) / 1000, 's', 2);
} finally {
  rmSync(work, { recursive: true, force: true });
}
