// Loaded before the Lambda handler with NODE_OPTIONS="--import /opt/ssm-env.mjs" (a Lambda
// layer of OpenNextSite). Reads the SSM parameters named in SSM_ENV_PARAMETERS
// ("ENV_NAME=/ssm/name,OTHER=/ssm/other") with decryption and puts their values into
// process.env, so the Next.js app reads e.g. process.env.CLERK_SECRET_KEY as usual while the
// function's configuration holds only the parameter *names*. A missing parameter fails the
// cold start loudly, naming it, instead of serving pages without their secret.
import { createRequire } from 'node:module';

const spec = process.env.SSM_ENV_PARAMETERS ?? '';
const wanted = spec.split(',').map((pair) => pair.trim()).filter(Boolean).map((pair) => {
  const eq = pair.indexOf('=');
  if (eq < 1 || eq === pair.length - 1) {
    throw new Error(`ssm-env: SSM_ENV_PARAMETERS entry "${pair}" is not ENV_NAME=/parameter/name`);
  }
  return { env: pair.slice(0, eq), name: pair.slice(eq + 1) };
});

if (wanted.length > 0) {
  // The Lambda Node.js runtime ships the AWS SDK v3 on NODE_PATH, which only require() honours.
  const require = createRequire(import.meta.url);
  const { SSMClient, GetParametersCommand } = require('@aws-sdk/client-ssm');
  const client = new SSMClient({});
  const values = new Map();
  // GetParameters takes at most 10 names per call.
  for (let i = 0; i < wanted.length; i += 10) {
    const names = [...new Set(wanted.slice(i, i + 10).map((w) => w.name))];
    const result = await client.send(new GetParametersCommand({ Names: names, WithDecryption: true }));
    if (result.InvalidParameters && result.InvalidParameters.length > 0) {
      throw new Error(`ssm-env: SSM parameter(s) not found: ${result.InvalidParameters.join(', ')}. Put them with \`aws ssm put-parameter --type SecureString --name NAME --value ...\`.`);
    }
    for (const p of result.Parameters ?? []) values.set(p.Name, p.Value);
  }
  for (const { env, name } of wanted) {
    process.env[env] = values.get(name);
  }
  client.destroy();
}
