import { App, Stack } from 'aws-cdk-lib';
import { DEFAULT_CONFIG, ZmanimConfig } from '../../src/zmanim/config';
import { addNagChecks, allStacks, createZmanimStacks, ZmanimStacks } from '../../src/zmanim/zmanim-app';
import { appContext } from '../support/app-context';

/** A fixed account so cross-region references and ARNs resolve as in a real deployment. */
export const TEST_ACCOUNT = '123456789012';

export interface SynthesizedApp {
  readonly app: App;
  readonly stacks: ZmanimStacks;
  readonly all: Stack[];
}

const synthesized = new Map<string, SynthesizedApp>();

/**
 * The production app as `src/app.ts` builds it, with cdk-nag, synthesized once per test file
 * and config (a full synth with cdk-nag takes seconds): tests read it, none may change it.
 */
export function synthZmanimApp(overrides: Partial<ZmanimConfig> = {}): SynthesizedApp {
  const key = JSON.stringify(overrides);
  const cached = synthesized.get(key);
  if (cached) return cached;
  const app = new App({ context: appContext() });
  const stacks = createZmanimStacks(app, { ...DEFAULT_CONFIG, account: TEST_ACCOUNT, ...overrides });
  addNagChecks(app);
  app.synth();
  const result = { app, stacks, all: allStacks(app) };
  synthesized.set(key, result);
  return result;
}
