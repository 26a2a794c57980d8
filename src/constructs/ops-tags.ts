/**
 * The tags by which the `shtetl-ops` CLI (src/ops/) finds a service's resources in an account,
 * with no knowledge of the app's stack names or outputs. Every construct tags its resources
 * with `shtetl:service`; the keys below mark what the CLI needs beyond that. Plain constants:
 * the bundled CLI imports this file, so it must not import aws-cdk-lib.
 */
export const OPS_TAGS = {
  /** Every resource of a service (value: the service's name). */
  service: 'shtetl:service',
  /** A GravitonDataHost's instance, its data volume and log groups (value: the host's unique id). */
  dataHost: 'shtetl:data-host',
  /** A GravitonDataHost's /data volume (value: the host's unique id). */
  dataVolume: 'shtetl:data-volume',
  /** A GravitonDataHost's log group (value: api, postgresql, redis or boot). */
  log: 'shtetl:log',
  /** On the host's instance: the SSM path of its secrets. */
  parameterPath: 'shtetl:parameter-path',
  /** On the host's instance: the URL the API answers its health check on, on the host. */
  healthUrl: 'shtetl:health-url',
  /** On the host's instance: the PostgreSQL database and role of the API. */
  database: 'shtetl:database',
  databaseUser: 'shtetl:database-user',
  /** On the host's instance: `<bucket>/<key>` of the API release it runs. */
  release: 'shtetl:release',
  /**
   * On an instance that runs the API: the name of the parameterless SSM Command document that
   * deploys the current API release there (a deploy workflow sends it to the instances it finds
   * by their tags; IAM decides which documents the sender may send).
   */
  deployApiDocument: 'shtetl:deploy-api-document',
  /** A ResticBackups repository bucket (value: the repository's key prefix). */
  backups: 'shtetl:backups',
  /** Set by CloudFormation on the resources it creates. */
  stackName: 'aws:cloudformation:stack-name',
} as const;

/** The log groups a GravitonDataHost ships to, by the name operators use. */
export const DATA_HOST_LOGS = ['api', 'postgresql', 'redis', 'boot'] as const;
