import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, relative } from 'node:path';
import { DEFAULT_CONFIG, PLACEHOLDER_HOSTED_ZONE_ID, ZmanimConfig } from './config';
import { FIXTURE_SITE_DIR } from './prepare-assets';

/**
 * Set by the `npx projen deploy` and `npx projen diff` tasks (`deploy` or `diff`; a workflow
 * may set it too): the synth is for a real account, so the checks below refuse it instead of
 * warning. The CDK CLI does not tell the app which command runs it.
 */
export const COMMAND_VARIABLE = 'ZMANIM_CDK_COMMAND';
/**
 * The deploy workflows' synth job: its cloud assembly is deployed by a later job, and it has
 * no credentials (it may run a build of untrusted code), so everything but the account is checked.
 */
export const RELEASE_SYNTH = 'release';

/** The build id the fixture Next.js app gives itself (test/fixtures/nextjs-app/next.config.mjs). */
export const FIXTURE_BUILD_ID = 'opennext-site-fixture';

/** One setting a deploy cannot go ahead with: what to set, what is wrong, how to fix it. */
export interface DeployProblem {
  readonly setting: string;
  readonly problem: string;
  readonly fix: string;
}

/** Raised when a deploy or diff would use the test fixture, a placeholder or no account. */
export class DeployCheckError extends Error {
  constructor(public readonly command: string, public readonly problems: DeployProblem[]) {
    super([
      `zmanim ${command}: stopped before anything reached CloudFormation. Set ${problems.length === 1 ? 'this' : 'these'} first:`,
      ...problems.map((p) => `  - ${p.setting}: ${p.problem}. ${p.fix}`),
    ].join('\n'));
    this.name = 'DeployCheckError';
  }
}

/**
 * The settings of `config` that must not reach a real account: the site build (the fixture,
 * or a folder that is no OpenNext build), the placeholder hosted zone id, and, when
 * `needAccount`, the account and credentials. `root` is the repository (relative site paths).
 */
export function deployProblems(config: ZmanimConfig, env: NodeJS.ProcessEnv, root: string, needAccount: boolean): DeployProblem[] {
  const problems: DeployProblem[] = [];
  const credentialsFix = 'Set AWS_PROFILE to a profile of the zmanim account (after `aws sso login` if it is an SSO profile), or export AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY';
  const credentialsAccount = env.CDK_DEFAULT_ACCOUNT;
  if (needAccount && !config.account) {
    problems.push({
      setting: 'AWS account',
      problem: 'no AWS credentials were found, so the account to deploy to is unknown',
      fix: `${credentialsFix}; -c zmanim:account=123456789012 also pins the account.`,
    });
  } else if (needAccount && !credentialsAccount) {
    problems.push({ setting: 'AWS credentials', problem: `zmanim:account is ${config.account}, but no AWS credentials were found for it`, fix: `${credentialsFix}.` });
  } else if (needAccount && credentialsAccount !== config.account) {
    problems.push({
      setting: 'zmanim:account',
      problem: `is ${config.account}, but your AWS credentials are for ${credentialsAccount}`,
      fix: 'Switch AWS_PROFILE to a profile of the right account, or correct zmanim:account.',
    });
  }

  const site = config.site.openNextPath;
  const siteDir = isAbsolute(site) ? site : join(root, site);
  const fixtureDir = join(root, FIXTURE_SITE_DIR);
  const buildIdFile = join(siteDir, 'assets', 'BUILD_ID');
  const siteFix = 'Build the web app with `npx @opennextjs/aws build` and pass its folder: '
    + '-c zmanim:site=\'{"openNextPath":"../web/.open-next"}\' (the deploy workflows do this).';
  if (site === DEFAULT_CONFIG.site.openNextPath) {
    problems.push({ setting: 'site.openNextPath', problem: `not set, so the site would be the test fixture app (${FIXTURE_SITE_DIR})`, fix: siteFix });
  } else if (siteDir === join(fixtureDir, '.open-next') || (existsSync(buildIdFile) && readFileSync(buildIdFile, 'utf8').trim() === FIXTURE_BUILD_ID)) {
    problems.push({ setting: 'site.openNextPath', problem: `"${site}" is the test fixture app's build (build id ${FIXTURE_BUILD_ID})`, fix: siteFix });
  } else if (!existsSync(join(siteDir, 'open-next.output.json'))) {
    problems.push({
      setting: 'site.openNextPath',
      problem: `"${site}" holds no OpenNext build (no open-next.output.json in ${relative(process.cwd(), siteDir) || '.'})`,
      fix: siteFix,
    });
  }

  if (config.hostedZone.zoneId === PLACEHOLDER_HOSTED_ZONE_ID) {
    problems.push({
      setting: 'hostedZone.zoneId',
      problem: `${PLACEHOLDER_HOSTED_ZONE_ID} is the placeholder this repository ships`,
      fix: `Copy the id from Route 53 > Hosted zones > ${config.hostedZone.zoneName} into DEFAULT_CONFIG in src/zmanim/config.ts, `
        + `or pass -c zmanim:hostedZone='{"zoneId":"Z...","zoneName":"${config.hostedZone.zoneName}"}'.`,
    });
  }
  return problems;
}

/**
 * Run by src/app.ts before any stack is built. Under `npx projen deploy|diff` or the deploy
 * workflows' synth (`ZMANIM_CDK_COMMAND` deploy, diff or release), throws a `DeployCheckError` listing every problem. Otherwise a
 * synth that names an account (a direct `npx cdk deploy` does) gets a one-line warning, and a
 * synth without one (fresh clone, CI, tests) is a preview where the fixture is the default.
 */
export function checkDeployable(config: ZmanimConfig, env: NodeJS.ProcessEnv, root: string, warn: (line: string) => void): void {
  const command = env[COMMAND_VARIABLE];
  if (command) {
    const problems = deployProblems(config, env, root, command !== RELEASE_SYNTH);
    if (problems.length > 0) throw new DeployCheckError(command, problems);
    return;
  }
  if (!config.account) return;
  const problems = deployProblems(config, env, root, false);
  if (problems.length > 0) {
    warn(`Warning: this synth for account ${config.account} is not deployable (${problems.map((p) => p.setting).join(', ')}): `
      + 'npx projen deploy refuses it and says what to set.');
  }
}
