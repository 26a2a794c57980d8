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

  test('a partial object (site, hostedZone) changes only the fields it names', () => {
    const config = resolveConfig({ 'zmanim:config': { site: { openNextPath: '../web/.open-next' } }, 'zmanim:hostedZone': '{"zoneId":"Z0987654321ABC"}' }, {});
    expect(config.site).toEqual({ openNextPath: '../web/.open-next', warmerConcurrency: DEFAULT_CONFIG.site.warmerConcurrency });
    expect(config.hostedZone).toEqual({ zoneId: 'Z0987654321ABC', zoneName: DEFAULT_CONFIG.hostedZone.zoneName });
  });

  test('booleans and numbers from cdk.json (real JSON types) are taken as they are', () => {
    const config = resolveConfig({ 'zmanim:enableHealthCheck': false, 'zmanim:dataVolumeSize': 40, 'zmanim:config': { alertEmails: ['a@shtetl.io'] } }, {});
    expect(config).toMatchObject({ enableHealthCheck: false, dataVolumeSize: 40, alertEmails: ['a@shtetl.io'] });
  });
});

/** Each mistake an operator can make in context: the message names the key, the value and the fix. */
describe('zmanim config from context refuses mistakes', () => {
  const refuses = (values: Record<string, unknown>, message: RegExp) => {
    expect(() => resolveConfig(values, {})).toThrow(ConfigError);
    expect(() => resolveConfig(values, {})).toThrow(message);
  };

  test('an unknown field in zmanim:config, with the field it probably meant', () => {
    refuses({ 'zmanim:config': '{"dataVolumSize":50}' },
      /^Invalid zmanim config "dataVolumSize" \(50\) from context zmanim:config: is not a config field\. Did you mean "dataVolumeSize"\?$/);
  });

  test('an unknown zmanim: context key, with the key it probably meant', () => {
    refuses({ 'zmanim:dataVolumSize': '50' }, /"zmanim:dataVolumSize" \("50"\): is not a context key the app reads\. Did you mean "zmanim:dataVolumeSize"\?/);
    // Nothing like a known key: the message lists them.
    refuses({ 'zmanim:colour': 'blue' }, /"zmanim:colour" \("blue"\): is not a context key the app reads\. Known: zmanim:environment, .*zmanim:ami/);
  });

  test('a secret in context is refused without echoing it', () => {
    const values = { 'zmanim:postgres-password': 'CANARY-5b2e8d40' };
    refuses(values, /"postgres-password" \("\(hidden\)"\) from context zmanim:postgres-password: is a secret, and secrets never go into context\. Put it into SSM Parameter Store/);
    expect(() => resolveConfig(values, {})).not.toThrow(/CANARY/);
    const inJson = { 'zmanim:config': '{"clerk-secret-key":"CANARY-5b2e8d40"}' };
    refuses(inJson, /"clerk-secret-key" \("\(hidden\)"\) from context zmanim:config: is a secret/);
    expect(() => resolveConfig(inJson, {})).not.toThrow(/CANARY/);
  });

  test('other tools\' context keys are left alone', () => {
    expect(resolveConfig({ '@aws-cdk/core:checkSecretUsage': true, 'aws:cdk:bundling-stacks': ['**'] }, {}).domain).toBe(DEFAULT_CONFIG.domain);
  });

  test('an unknown field inside an object field', () => {
    refuses({ 'zmanim:site': '{"openNextpath":"../web/.open-next"}' },
      /"site\.openNextpath" \("\.\.\/web\/\.open-next"\) from context zmanim:site: is not a field of site\. Did you mean "openNextPath"\?/);
  });

  test.each([['yes'], ['no'], ['1'], ['False ']])('"%s" for a boolean (it used to turn the health check off)', (value) => {
    refuses({ 'zmanim:enableHealthCheck': value },
      /"enableHealthCheck" \(".*"\) from context zmanim:enableHealthCheck: is not true or false\. Use -c zmanim:enableHealthCheck=true or -c zmanim:enableHealthCheck=false\./);
  });

  test('a quoted boolean in a JSON object', () => {
    refuses({ 'zmanim:config': '{"enableHealthCheck":"false"}' }, /"enableHealthCheck" \("false"\) from context zmanim:config: is not true or false\. Use "enableHealthCheck": true or false \(no quotes\)\./);
  });

  test('text for a number', () => {
    refuses({ 'zmanim:dataVolumeSize': 'fifty' }, /"dataVolumeSize" \("fifty"\) from context zmanim:dataVolumeSize: is not a number\. Use a number, e\.g\. -c zmanim:dataVolumeSize=30\./);
    refuses({ 'zmanim:config': { dataVolumeSize: '50' } }, /"dataVolumeSize" \("50"\) from context zmanim:config: is not a number\. Use a number, e\.g\. "dataVolumeSize": 30\./);
  });

  test('malformed JSON names the context key and shows the quoting that works', () => {
    refuses({ 'zmanim:config': '{dataVolumeSize:50}' },
      /^Invalid zmanim config "zmanim:config" \("\{dataVolumeSize:50\}"\): is not valid JSON \(.*position 1.*\)\. Quote every key .* -c zmanim:config='\{"dataVolumeSize":50\}'\.$/);
    refuses({ 'zmanim:hostedZone': "{'zoneId':'Z1'}" }, /"hostedZone" \("\{'zoneId':'Z1'\}"\) from context zmanim:hostedZone: is not valid JSON/);
    refuses({ 'zmanim:config': '[1,2]' }, /"zmanim:config" \("\[1,2\]"\): must be a JSON object/);
  });

  test('a single address where a list belongs reports the address, not its first letter', () => {
    refuses({ 'zmanim:config': '{"alertEmails":"a@b.io"}' }, /"alertEmails" \("a@b\.io"\) from context zmanim:config: must be a list of strings\. Use a JSON list, e\.g\. "alertEmails": \["a@shtetl\.io"\]\./);
    // On the command line a comma-separated list (or one address) is the documented form.
    expect(resolveConfig({ 'zmanim:alertEmails': 'a@b.io' }, {}).alertEmails).toEqual(['a@b.io']);
  });

  test('a wrong type inside an object field', () => {
    refuses({ 'zmanim:config': { site: { warmerConcurrency: '2' } } }, /"site\.warmerConcurrency" \("2"\) from context zmanim:config: must be a number/);
  });

  test('an account id as a number (leading zeros would be lost)', () => {
    refuses({ 'zmanim:config': { account: 12345678901 } }, /"account" \(12345678901\) from context zmanim:config: must be a string\. Quote the 12-digit id/);
  });

  test('a value that cannot work names the context key it came from', () => {
    refuses({ 'zmanim:config': '{"domain":"example.org"}' }, /"domain" \("example\.org"\) from context zmanim:config: is not inside the hosted zone/);
    refuses({ 'zmanim:dataVolumeSize': '5' }, /"dataVolumeSize" \(5\) from context zmanim:dataVolumeSize: must be a whole number of GiB/);
    expect(() => resolveConfig({}, { CDK_DEFAULT_ACCOUNT: '12' })).toThrow(/"account" \("12"\) from CDK_DEFAULT_ACCOUNT/);
  });

  test('an AMI choice other than bootstrap or packer', () => {
    refuses({ 'zmanim:ami': 'ami-0123456789abcdef0' }, /"zmanim:ami" \("ami-0123456789abcdef0"\): is not an image choice\. Use "bootstrap" .* or "packer"/);
    expect(() => resolveConfig({ 'zmanim:ami': 'packer' }, {})).not.toThrow();
  });
});
