import { App, Duration, Stack } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import {
  GeneratedSecrets, GitHubDeployRole, GitHubOidcProvider, GitHubRepository, GitHubSubject, GravitonDataHost, GravitonDataHostProps,
  HostReference, OpenNextSite, OriginVerifiedHttpApi, ResticBackups,
} from '../src';
import { ValidationError } from '../src/internal/validation-error';

/**
 * Every construct reports invalid props the same way: a ValidationError whose message starts
 * with the construct's type and path (which of several hosts or APIs is wrong), and whose
 * `constructPath` is that path.
 */
function setup() {
  const app = new App();
  const stack = new Stack(app, 'Errors', { env: { account: '123456789012', region: 'eu-west-1' } });
  const vpc = new ec2.Vpc(stack, 'Vpc', { availabilityZones: ['eu-west-1a'], natGateways: 0, subnetConfiguration: [{ name: 'public', subnetType: ec2.SubnetType.PUBLIC }] });
  const hostProps: GravitonDataHostProps = { vpc, serviceName: 'kehilla', secretsParameterPath: '/kehilla/test' };
  return { stack, vpc, hostProps, host: () => new GravitonDataHost(stack, 'Host', hostProps) };
}

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error('expected a ValidationError, nothing was thrown');
}

test.each([
  ['GravitonDataHost', 'Errors/Host', ({ stack, hostProps }: ReturnType<typeof setup>) => new GravitonDataHost(stack, 'Host', { ...hostProps, apiPort: 80 }), /apiPort 80 must be an unprivileged port/],
  ['GravitonDataHost', 'Errors/Host', ({ host }: ReturnType<typeof setup>) => host().addSecretNames('Bad Name'), /secret name "Bad Name"/],
  ['ResticBackups', 'Errors/Backups', ({ stack, host }: ReturnType<typeof setup>) => new ResticBackups(stack, 'Backups', { host: host(), passwordParameterName: '/kehilla/test/restic-password', sources: [] }), /sources is empty/],
  ['OriginVerifiedHttpApi', 'Errors/Api', ({ stack, vpc, host }: ReturnType<typeof setup>) => new OriginVerifiedHttpApi(stack, 'Api', { vpc, host: host(), headerName: 'Origin' }), /headerName must be a lowercase header name starting with "x-" \(got "Origin"\)/],
  ['GeneratedSecrets', 'Errors/Secrets', ({ stack }: ReturnType<typeof setup>) => new GeneratedSecrets(stack, 'Secrets', { parameterPath: '/kehilla/test', secretNames: [] }), /secretNames is empty/],
  ['GitHubDeployRole', 'Errors/Deploy', ({ stack }: ReturnType<typeof setup>) => new GitHubDeployRole(stack, 'Deploy', { provider: GitHubOidcProvider.fromAccount(stack, 'GitHub'), subjects: [] }), /needs at least one subject/],
  ['GitHubDeployRole', 'Errors/Deploy', ({ stack }: ReturnType<typeof setup>) => new GitHubDeployRole(stack, 'Deploy', {
    provider: GitHubOidcProvider.fromAccount(stack, 'GitHub'),
    subjects: [GitHubSubject.environment(GitHubRepository.fromName('shtetl/zmanim'), 'production')],
    maxSessionDuration: Duration.hours(13),
  }), /maxSessionDuration 13 hours is outside IAM's range/],
  ['OpenNextSite', 'Errors/Site', ({ stack }: ReturnType<typeof setup>) => new OpenNextSite(stack, 'Site', { openNextPath: 'web/.open-next', domainNames: ['www.example.com'] }),
    /domainNames \(www\.example\.com\) need a certificate from us-east-1 that covers them\. Pass certificate/],
  ['OpenNextSite', 'Errors/Site', ({ stack }: ReturnType<typeof setup>) => new OpenNextSite(stack, 'Site', { openNextPath: 'web/.open-next', warmerConcurrency: 1.5 }),
    /warmerConcurrency must be a whole number from 0 to 100 \(got 1\.5\)/],
  ['HostReference', 'Errors/Ref', ({ stack, host }: ReturnType<typeof setup>) => new HostReference(stack, 'Ref', { host: host(), parameterPrefix: '/kehilla/test' }).addBootCommands('true'), /add boot commands in the stack that owns the host/],
])('%s %s: the type and path, then what was wrong', (type, path, make, message) => {
  const error = thrown(() => make(setup()));
  expect(error.message.startsWith(`${type} ${path}: `)).toBe(true);
  expect(error.message).toMatch(message);
  expect(error.constructPath).toBe(path);
});

test('a static factory without a construct names its type only', () => {
  const error = thrown(() => GitHubRepository.fromName('shtetl/*'));
  expect(error.message).toMatch(/^GitHubRepository: GitHub repository "shtetl\/\*" is not "owner\/name"/);
  expect(error.constructPath).toBeUndefined();
  expect(thrown(() => ResticBackups.defaultSchedule(Duration.minutes(7))).message)
    .toBe('ResticBackups: no default schedule for an interval of 7 minutes: pass schedule (a systemd OnCalendar expression)');
});
