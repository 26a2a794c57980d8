/**
 * Cache behaviour planning of OpenNextSite (internal: not exported from the package). Pure:
 * from what `open-next.output.json` and the assets folder say, the ordered list of path
 * patterns and what serves each. CloudFront takes the first behaviour whose pattern matches.
 */

/** What serves a behaviour: the image function, a server function (by origin key) or the assets bucket. */
export type BehaviorTarget = { readonly kind: 'image' } | { readonly kind: 'server'; readonly origin: string } | { readonly kind: 's3' };

export interface PlannedBehavior {
  /** Path pattern without a leading slash, e.g. `_next/image*`. */
  readonly pattern: string;
  readonly target: BehaviorTarget;
}

export interface BehaviorPlanInput {
  /** `behaviors` of open-next.output.json, in its order. */
  readonly behaviors: readonly { readonly pattern: string; readonly origin?: string }[];
  /** Keys of the server function origins: `default` and every split function. */
  readonly serverOrigins: readonly string[];
  /** Top-level entries of the assets folder. */
  readonly publicItems: readonly { readonly name: string; readonly isDirectory: boolean }[];
  /** The hashed sub-folder of the assets (`_next`): only its `static/` is served from S3. */
  readonly versionedSubDir: string;
}

/**
 * The behaviours besides the default one (`*`, the default server function), in order:
 *
 * 1. the image optimiser (`_next/image*`);
 * 2. every split server function's patterns, in OpenNext's order (before the default
 *    server's, as OpenNext lists them);
 * 3. `_next/data/*` to the default server;
 * 4. one per top-level public item (a folder as `name/*`; `_next` narrowed to
 *    `_next/static/*`, since `_next/image` and `_next/data` are not files).
 *
 * A pattern already planned is not planned again (the first one wins, as in CloudFront).
 */
export function planBehaviors(input: BehaviorPlanInput): PlannedBehavior[] {
  const out: PlannedBehavior[] = [];
  const add = (pattern: string, target: BehaviorTarget) => {
    const p = pattern.replace(/^\/+/, '');
    if (p === '*' || p === '' || out.some((b) => b.pattern === p)) return;
    out.push({ pattern: p, target });
  };
  add(input.behaviors.find((b) => b.origin === 'imageOptimizer')?.pattern ?? '_next/image*', { kind: 'image' });
  for (const b of input.behaviors) {
    if (b.origin && b.origin !== 'default' && input.serverOrigins.includes(b.origin)) add(b.pattern, { kind: 'server', origin: b.origin });
  }
  add('_next/data/*', { kind: 'server', origin: 'default' });
  for (const item of input.publicItems) {
    if (item.name === 'BUILD_ID') continue;
    const pattern = item.name === input.versionedSubDir && item.isDirectory ? `${item.name}/static/*`
      : item.isDirectory ? `${item.name}/*` : item.name;
    add(pattern, { kind: 's3' });
  }
  return out;
}

/**
 * Whether `path` (starting with `/`) matches the CloudFront path pattern `pattern` (with or
 * without its leading slash): `*` matches any run of characters (also `/`), `?` exactly one;
 * case-sensitive; the query string is not part of the path.
 */
export function matchesPathPattern(pattern: string, path: string): boolean {
  const p = pattern.startsWith('/') ? pattern : `/${pattern}`;
  const regex = new RegExp(`^${p.split('').map((c) => c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')).join('')}$`);
  return regex.test(path);
}
