#!/usr/bin/env node
// The production zmanim app: `npx cdk synth` / `npx projen synth|diff|deploy`.
import { join } from 'node:path';
import { App } from 'aws-cdk-lib';
import { resolveConfig } from './zmanim/config';
import { ensureLambdaBundles } from './zmanim/prepare-assets';
import { addNagChecks, createZmanimStacks } from './zmanim/zmanim-app';

ensureLambdaBundles(join(__dirname, '..'));

const app = new App();
createZmanimStacks(app, resolveConfig((key) => app.node.tryGetContext(key)));
addNagChecks(app);
app.synth();
