import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { TEST_ACCOUNT } from './app-fixture';
import { DEFAULT_CONFIG } from '../../src/zmanim/config';
import { allStacks, createZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';

/**
 * The `single-host` capacity profile (the default) must synthesize exactly the templates it
 * did before capacity profiles existed (issue 9): switching profiles is opt-in, and nobody
 * on one host gets a changed stack from this work. The JSON files next to this test were
 * written from the code as it was before the profiles were added.
 *
 * A change that is MEANT to change the single-host templates refreshes them with
 * `UPDATE_SINGLE_HOST_TEMPLATES=1 npx jest test/zmanim/single-host-unchanged` and commits
 * the diff, so that the change is visible in review.
 */
const dir = join(__dirname, 'single-host-templates');
const update = process.env.UPDATE_SINGLE_HOST_TEMPLATES === '1';

const app = new App({ context: appContext() });
createZmanimStacks(app, { ...DEFAULT_CONFIG, account: TEST_ACCOUNT });
const stacks = allStacks(app);

test('the default config is the single-host profile and has every stack it had', () => {
  const names = stacks.map((s) => s.stackName).sort();
  if (update) {
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'stacks.json'), JSON.stringify(names, null, 2) + '\n');
  }
  expect(names).toEqual(JSON.parse(readFileSync(join(dir, 'stacks.json'), 'utf8')));
});

/**
 * Asset hashes (64 hex digits: Lambda bundles, host scripts) change with every edit of a
 * handler or script, which is not what this test guards; everything else must be equal.
 */
const withoutAssetHashes = (template: unknown) => JSON.parse(JSON.stringify(template).replace(/[0-9a-f]{64}/g, '<asset-hash>'));

test.each(stacks.map((s) => [s.stackName, s] as const))('%s template is unchanged', (name, stack) => {
  const file = join(dir, `${name}.json`);
  const actual = Template.fromStack(stack).toJSON();
  if (update) writeFileSync(file, JSON.stringify(actual, null, 2) + '\n');
  if (!existsSync(file)) throw new Error(`${file} is missing: a new single-host stack needs its template committed (UPDATE_SINGLE_HOST_TEMPLATES=1).`);
  expect(withoutAssetHashes(actual)).toEqual(withoutAssetHashes(JSON.parse(readFileSync(file, 'utf8'))));
});
