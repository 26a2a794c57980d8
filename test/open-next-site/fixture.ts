import { join } from 'node:path';
import { ensureFixtureSite } from '../../src/zmanim/prepare-assets';

/** The fixture app's `.open-next` folder, built once (and again only when its sources change). */
export function fixtureOpenNextPath(): string {
  return ensureFixtureSite(join(__dirname, '..', '..'), () => undefined);
}
