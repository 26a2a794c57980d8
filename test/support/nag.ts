import { Stack, Stage } from 'aws-cdk-lib';
import { CloudAssembly, SynthesisMessage } from 'aws-cdk-lib/cx-api';

const assemblies = new WeakMap<Stage, CloudAssembly>();

/**
 * The errors and warnings on `stack` whose text matches `pattern` (default: cdk-nag's
 * AwsSolutions rules), what `Annotations.fromStack(stack).findError('*', ...)` and
 * `findWarning` give together. `Annotations.fromStack` synthesizes the whole app again on
 * every call (two per stack, so 24 synths for the app's 12 stacks); this synthesizes each app
 * once, forced like Annotations does so that aspects added after an earlier synth (cdk-nag's)
 * have run, and reads every stack's messages from that one cloud assembly.
 */
export function findingsOf(stack: Stack, pattern: RegExp = /AwsSolutions-.*/): SynthesisMessage[] {
  const root = stack.node.root;
  if (!Stage.isStage(root)) throw new Error(`${stack.node.path} is not in an App or a Stage`);
  let assembly = assemblies.get(root);
  if (!assembly) {
    assembly = root.synth({ force: true });
    assemblies.set(root, assembly);
  }
  return assembly.getStackArtifact(stack.artifactId).messages
    .filter((m) => ['error', 'warning'].includes(String(m.level)) && pattern.test(String(m.entry.data)));
}
