import { ConfigError, DEFAULT_CONFIG, resolveConfig, validateConfig, ZmanimConfig } from '../../src/zmanim/config';

const withField = (patch: Partial<ZmanimConfig>): ZmanimConfig => ({ ...DEFAULT_CONFIG, ...patch });
const context = (values: Record<string, unknown>) => (key: string) => values[key];

describe('zmanim config', () => {
  test('the embedded defaults are the seed values and are valid', () => {
    const config = validateConfig(DEFAULT_CONFIG);
    expect(config).toMatchObject({
      environment: 'prod',
      region: 'eu-west-1',
      availabilityZone: 'eu-west-1a',
      domain: 'zmanim.shtetl.io',
      instanceType: 'm7g.medium',
      dataVolumeSize: 30,
      enableHealthCheck: true,
      ssmPrefix: '/zmanim/prod',
    });
  });

  test.each<[string, Partial<ZmanimConfig>, RegExp]>([
    ['a domain outside the hosted zone', { domain: 'zmanim.example.com' },
      /"domain" \("zmanim.example.com"\): is not inside the hosted zone "shtetl.io".*Use a domain under hostedZone.zoneName/],
    ['a wildcard domain', { domain: '*.shtetl.io' }, /"domain" \("\*\.shtetl\.io"\): is not a lowercase DNS name/],
    ['a missing hosted zone id', { hostedZone: { zoneId: '', zoneName: 'shtetl.io' } }, /"hostedZone.zoneId" \(""\): is missing\. Copy the id from Route 53/],
    ['a hosted zone id with its path', { hostedZone: { zoneId: '/hostedzone/Z123456', zoneName: 'shtetl.io' } }, /"hostedZone.zoneId".*without "\/hostedzone\/"/],
    ['an invalid email', { alertEmails: ['ops@shtetl.io', 'not-an-email'] }, /"alertEmails" \("not-an-email"\): is not an email address/],
    ['no alert email', { alertEmails: [] }, /"alertEmails" \(\[\]\): nobody would be told/],
    ['an AZ of another region', { availabilityZone: 'us-east-1a' }, /"availabilityZone" \("us-east-1a"\): is not an Availability Zone of eu-west-1/],
    ['a 5 GB volume', { dataVolumeSize: 5 }, /"dataVolumeSize" \(5\): must be a whole number of GiB from 8 to 16384/],
    ['a fractional volume', { dataVolumeSize: 30.5 }, /"dataVolumeSize" \(30.5\)/],
    ['a short account id', { account: '12345' }, /"account" \("12345"\): an AWS account id has exactly 12 digits/],
    ['an ssm prefix with a trailing slash', { ssmPrefix: '/zmanim/prod/' }, /"ssmPrefix" \("\/zmanim\/prod\/"\)/],
    ['a wildcard repository', { github: { infrastructureRepository: 'shtetl/*', applicationRepository: 'shtetl/zmanim' } },
      /"github.infrastructureRepository" \("shtetl\/\*"\): must be "owner\/name" without wildcards/],
  ])('rejects %s, naming the field, the value and the fix', (_name, patch, message) => {
    expect(() => validateConfig(withField(patch))).toThrow(ConfigError);
    expect(() => validateConfig(withField(patch))).toThrow(message);
  });

  test('context overrides single fields with the right types', () => {
    const config = resolveConfig(context({
      'zmanim:dataVolumeSize': '50',
      'zmanim:enableHealthCheck': 'false',
      'zmanim:alertEmails': 'a@shtetl.io, b@shtetl.io',
      'zmanim:hostedZone': '{"zoneId":"Z0987654321ABC","zoneName":"shtetl.io"}',
    }), {});
    expect(config.dataVolumeSize).toBe(50);
    expect(config.enableHealthCheck).toBe(false);
    expect(config.alertEmails).toEqual(['a@shtetl.io', 'b@shtetl.io']);
    expect(config.hostedZone.zoneId).toBe('Z0987654321ABC');
    expect(config.domain).toBe(DEFAULT_CONFIG.domain);
  });

  test('a zmanim:config object overrides several fields; bad values still fail', () => {
    expect(resolveConfig(context({ 'zmanim:config': { instanceType: 'm7g.large' } }), {}).instanceType).toBe('m7g.large');
    expect(() => resolveConfig(context({ 'zmanim:config': '{"domain":"example.org"}' }), {})).toThrow(/"domain" \("example.org"\)/);
  });

  test('the account comes from config, else from CDK_DEFAULT_ACCOUNT, else stays unset', () => {
    expect(resolveConfig(context({}), { CDK_DEFAULT_ACCOUNT: '111122223333' }).account).toBe('111122223333');
    expect(resolveConfig(context({ 'zmanim:account': '444455556666' }), { CDK_DEFAULT_ACCOUNT: '111122223333' }).account).toBe('444455556666');
    expect(resolveConfig(context({}), {}).account).toBeUndefined();
  });
});
