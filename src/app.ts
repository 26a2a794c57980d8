#!/usr/bin/env node
// The production zmanim app: `npx cdk synth` / `npx projen synth|diff|deploy`.
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { ConfigError, resolveConfig } from './zmanim/config';
import { checkDeployable, DeployCheckError } from './zmanim/deploy-checks';
import { ensureLambdaBundles } from './zmanim/prepare-assets';
import { addNagChecks, createZmanimStacks } from './zmanim/zmanim-app';

const root = join(__dirname, '..');
const stderr = (line: string) => process.stderr.write(`${line}\n`);

try {
  const app = new App();
  const config = resolveConfig(app.node.getAllContext());
  checkDeployable(config, process.env, root, stderr);
  ensureLambdaBundles(root);
  createZmanimStacks(app, config);
  addNagChecks(app);
  app.synth();
} catch (e) {
  // An operator's mistake: the message says what to set; a stack trace would only bury it.
  if (e instanceof ConfigError || e instanceof DeployCheckError) {
    stderr(`Error: ${e.message}`);
    process.exit(1);
  }
  throw e;
}
