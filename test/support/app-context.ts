import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '..', '..');

function readJson(file: string): Record<string, unknown> {
  const path = join(root, file);
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : {};
}

/**
 * The context `npx cdk synth` gives the zmanim app: the committed cdk.context.json, overridden
 * by cdk.json's context (the feature flags), overridden by `extra` (as `-c` would). A test that
 * builds the app's stacks with `new App({ context: appContext() })` synthesizes what the CLI
 * deploys; with a plain `new App()` every feature flag has its old default instead.
 */
export function appContext(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const cdkJson = readJson('cdk.json') as { context?: Record<string, unknown> };
  return { ...readJson('cdk.context.json'), ...cdkJson.context, ...extra };
}
