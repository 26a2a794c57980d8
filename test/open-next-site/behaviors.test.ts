import { matchesPathPattern, planBehaviors } from '../../src/constructs/open-next-site/behaviors';

const items = (...names: string[]) => names.map((n) => ({ name: n.replace(/\/$/, ''), isDirectory: n.endsWith('/') }));

test('image first, split patterns in OpenNext\'s order, _next/data, then one per public item', () => {
  const plan = planBehaviors({
    behaviors: [
      { pattern: '_next/image*', origin: 'imageOptimizer' },
      { pattern: 'api/*', origin: 'api' },
      { pattern: 'blog/*', origin: 'pages' },
      { pattern: '_next/data/*', origin: 'default' },
      { pattern: '*', origin: 'default' },
      { pattern: 'BUILD_ID', origin: 's3' },
      { pattern: '_next/*', origin: 's3' },
    ],
    serverOrigins: ['default', 'api', 'pages'],
    publicItems: items('BUILD_ID', '_next/', 'favicon.ico', 'images/'),
    versionedSubDir: '_next',
  });
  expect(plan.map((b) => `${b.pattern} ${b.target.kind === 'server' ? b.target.origin : b.target.kind}`)).toEqual([
    '_next/image* image', 'api/* api', 'blog/* pages', '_next/data/* default', '_next/static/* s3', 'favicon.ico s3', 'images/* s3',
  ]);
});

test('a pattern planned twice keeps its first target; `*` is never a behaviour (it is the default)', () => {
  const plan = planBehaviors({
    behaviors: [{ pattern: 'api/*', origin: 'api' }, { pattern: '*', origin: 'api' }],
    serverOrigins: ['default', 'api'],
    publicItems: items('api/'),
    versionedSubDir: '_next',
  });
  expect(plan.map((b) => b.pattern)).toEqual(['_next/image*', 'api/*', '_next/data/*']);
  expect(plan[1].target).toEqual({ kind: 'server', origin: 'api' });
});

test('CloudFront path patterns: * spans slashes, ? is one character, case-sensitive, leading slash optional', () => {
  expect(matchesPathPattern('_next/image*', '/_next/image')).toBe(true);
  expect(matchesPathPattern('/_next/static/*', '/_next/static/chunks/a.js')).toBe(true);
  expect(matchesPathPattern('/_next/static/*', '/_next/statica.js')).toBe(false);
  expect(matchesPathPattern('/images/*', '/Images/a.png')).toBe(false);
  expect(matchesPathPattern('/a?c', '/abc')).toBe(true);
  expect(matchesPathPattern('/a?c', '/ac')).toBe(false);
  expect(matchesPathPattern('favicon.ico', '/favicon.ico')).toBe(true);
  expect(matchesPathPattern('favicon.ico', '/faviconXico')).toBe(false);
  expect(matchesPathPattern('*', '/anything/at/all')).toBe(true);
});
