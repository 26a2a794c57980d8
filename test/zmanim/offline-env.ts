/**
 * The environment of a command that must need neither AWS credentials nor network: no
 * credentials anywhere (variables, files, instance metadata), and every connection attempt
 * goes through a proxy on a closed port, so it fails at once instead of reaching AWS.
 */
export function offlineEnv(): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AWS_|CDK_)/.test(k) || k === 'AWS_CA_BUNDLE'));
  return {
    ...env,
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/credentials',
    AWS_CONFIG_FILE: '/nonexistent/config',
    AWS_EC2_METADATA_DISABLED: 'true',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    HTTP_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
  };
}
