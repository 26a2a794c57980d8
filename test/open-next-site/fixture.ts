import { join } from 'node:path';
import { ensureFixtureSite, ensureNextFixture, V3_FIXTURE_SITE_DIR } from '../../src/zmanim/prepare-assets';

/** The fixture app's `.open-next` folder, built once (and again only when its sources change). */
export function fixtureOpenNextPath(): string {
  return ensureFixtureSite(join(__dirname, '..', '..'), () => undefined);
}

/** The `.open-next` folder of the fixture built with `@opennextjs/aws` 3.x (test/fixtures/nextjs-v3). */
export function v3FixtureOpenNextPath(): string {
  return ensureNextFixture(join(__dirname, '..', '..', V3_FIXTURE_SITE_DIR), () => undefined);
}
