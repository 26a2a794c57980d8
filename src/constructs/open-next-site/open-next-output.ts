import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';

/**
 * What this construct needs from `open-next.output.json`, the manifest `open-next build`
 * writes into `.open-next/` (same shape in @opennextjs/aws 3.x and 4.x; fields that only
 * newer releases write are optional here). Internal: not part of the jsii API.
 */
export interface OpenNextFunctionOrigin {
  readonly type: 'function';
  readonly handler: string;
  /** Folder of the bundle, relative to the app folder (the parent of `.open-next`). */
  readonly bundle: string;
  readonly streaming?: boolean;
  readonly wrapper?: string;
  readonly converter?: string;
  readonly queue?: string;
  readonly incrementalCache?: string;
  readonly tagCache?: string;
}

export interface OpenNextS3Copy {
  readonly from: string;
  readonly to: string;
  readonly cached: boolean;
  /** The sub-folder whose file names carry a content hash (4.x; `_next` in 3.x). */
  readonly versionedSubDir?: string;
}

export interface OpenNextBehavior {
  readonly pattern: string;
  readonly origin?: string;
  readonly edgeFunction?: string;
}

export interface OpenNextHandlerBundle {
  readonly handler: string;
  readonly bundle: string;
}

export interface OpenNextOutput {
  readonly edgeFunctions: Record<string, unknown>;
  readonly origins: {
    readonly s3: { readonly type: 's3'; readonly originPath: string; readonly copy: OpenNextS3Copy[] };
    readonly imageOptimizer: OpenNextFunctionOrigin;
    readonly default: OpenNextFunctionOrigin;
    readonly [key: string]: unknown;
  };
  readonly behaviors: OpenNextBehavior[];
  readonly additionalProps?: {
    readonly disableIncrementalCache?: boolean;
    readonly disableTagCache?: boolean;
    readonly warmer?: OpenNextHandlerBundle;
    readonly initializationFunction?: OpenNextHandlerBundle;
    readonly revalidationFunction?: OpenNextHandlerBundle;
  };
}

/** A parsed, validated OpenNext build: absolute folders for everything the site deploys. */
export interface OpenNextBuild {
  /** The `.open-next` folder. */
  readonly outputDir: string;
  /** The Next.js build id (changes with every `next build`). */
  readonly buildId: string;
  readonly output: OpenNextOutput;
  readonly server: ResolvedFunction;
  /** Split server functions (`functions` in open-next.config.ts) by origin key, in the manifest's order. */
  readonly splitServers: { readonly key: string; readonly fn: ResolvedFunction }[];
  readonly imageOptimizer: ResolvedFunction;
  readonly revalidation?: ResolvedFunction;
  readonly initialization?: ResolvedFunction;
  readonly warmer?: ResolvedFunction;
  /** Static files, uploaded to the assets bucket under `assetsKeyPrefix`. */
  readonly assetsDir: string;
  readonly assetsKeyPrefix: string;
  /** The hashed sub-folder of `assetsDir` (`_next`). */
  readonly versionedSubDir: string;
  /** Prerendered ISR/SSG cache, uploaded to the cache bucket under `cacheKeyPrefix`. */
  readonly cacheDir?: string;
  readonly cacheKeyPrefix: string;
  /**
   * Whether the server reads and writes OpenNext's DynamoDB tag cache (`tagCache` "dynamodb"
   * or "dynamodb-lite", the default, and the tag cache not disabled): the site then needs
   * the table, with or without an initialization function to seed it.
   */
  readonly dynamoTagCache: boolean;
  /** Top-level entries of `assetsDir`: `name` and whether it is a folder. */
  readonly publicItems: { readonly name: string; readonly isDirectory: boolean }[];
}

export interface ResolvedFunction {
  readonly handler: string;
  readonly dir: string;
  readonly streaming: boolean;
  /** The tag cache the function uses (`dynamodb`, `dynamodb-lite`, ...; unset in older manifests). */
  readonly tagCache?: string;
}

const HOW_TO_BUILD = 'Run `npx @opennextjs/aws build` (or `npx open-next build`) in the Next.js app, then pass the path of its `.open-next` folder.';

/**
 * Reads and checks an OpenNext build. Never builds anything: a missing or incomplete
 * output is an error that names what is missing and how to produce it.
 */
export function readOpenNextBuild(openNextPath: string): OpenNextBuild {
  const outputDir = resolve(openNextPath);
  if (!existsSync(outputDir) || !statSync(outputDir).isDirectory()) {
    throw new Error(`OpenNextSite: openNextPath "${openNextPath}" is not a folder (resolved to ${outputDir}). ${HOW_TO_BUILD}`);
  }
  const manifestPath = join(outputDir, 'open-next.output.json');
  if (!existsSync(manifestPath)) {
    throw new Error(`OpenNextSite: ${manifestPath} is missing, so "${openNextPath}" is not the output of @opennextjs/aws 3.x or 4.x. ${HOW_TO_BUILD}`);
  }
  let output: OpenNextOutput;
  try {
    output = JSON.parse(readFileSync(manifestPath, 'utf8'));
  } catch (e) {
    throw new Error(`OpenNextSite: ${manifestPath} is not valid JSON (${(e as Error).message}). ${HOW_TO_BUILD}`);
  }
  // Bundle paths in the manifest are relative to the app folder, e.g. ".open-next/assets".
  const appDir = resolve(outputDir, '..');
  const folder = (what: string, path: string | undefined): string => {
    if (!path) {
      throw new Error(`OpenNextSite: ${manifestPath} names no folder for ${what}. ${HOW_TO_BUILD}`);
    }
    const dir = isAbsolute(path) ? path : inOutputDir(outputDir, appDir, path);
    if (!existsSync(dir) || !statSync(dir).isDirectory()) {
      throw new Error(`OpenNextSite: ${what} folder ${dir} (named "${path}" in open-next.output.json) is missing: the build is incomplete. ${HOW_TO_BUILD}`);
    }
    return dir;
  };
  const fn = (what: string, origin: { handler?: string; bundle?: string; streaming?: boolean; tagCache?: string } | undefined): ResolvedFunction => {
    if (!origin || typeof origin !== 'object') {
      throw new Error(`OpenNextSite: ${manifestPath} has no ${what}. ${HOW_TO_BUILD}`);
    }
    if ((origin as { type?: string }).type !== undefined && (origin as { type?: string }).type !== 'function') {
      throw new Error(`OpenNextSite: ${what} has type "${(origin as { type?: string }).type}"; only Lambda functions (type "function") are supported. Remove \`generateDockerfile\` from open-next.config.ts.`);
    }
    const dir = folder(what, origin.bundle);
    const handler = origin.handler ?? 'index.handler';
    const file = handler.slice(0, handler.lastIndexOf('.'));
    if (!['.mjs', '.js', '.cjs'].some((ext) => existsSync(join(dir, file + ext)))) {
      throw new Error(`OpenNextSite: ${what} handler "${handler}" has no file ${file}.mjs or ${file}.js in ${dir}. ${HOW_TO_BUILD}`);
    }
    return { handler, dir, streaming: origin.streaming === true, tagCache: origin.tagCache };
  };

  const origins = output.origins ?? ({} as OpenNextOutput['origins']);
  if (!origins.s3 || !Array.isArray(origins.s3.copy)) {
    throw new Error(`OpenNextSite: ${manifestPath} has no "origins.s3.copy" list. ${HOW_TO_BUILD}`);
  }
  if (Object.keys(output.edgeFunctions ?? {}).length > 0) {
    throw new Error(`OpenNextSite: the build has edge functions (${Object.keys(output.edgeFunctions).join(', ')}); Lambda@Edge and external middleware are not supported. Keep middleware in the server function (the default).`);
  }
  // Split server functions (`functions` in open-next.config.ts), in the manifest's order.
  const splitOrigins = Object.keys(origins).filter((k) => !['s3', 'imageOptimizer', 'default'].includes(k));
  for (const key of splitOrigins) {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(key)) {
      throw new Error(`OpenNextSite: split function "${key}" in open-next.config.ts has a name that is not letters, digits, "-" or "_" (at most 64). Rename it.`);
    }
  }
  const assetCopy = origins.s3.copy.find((c) => c.cached);
  if (!assetCopy) {
    throw new Error(`OpenNextSite: ${manifestPath} lists no cached (static asset) folder in origins.s3.copy. ${HOW_TO_BUILD}`);
  }
  const cacheCopy = origins.s3.copy.find((c) => !c.cached);
  const assetsDir = folder('static assets', assetCopy.from);
  const additional = output.additionalProps ?? {};
  const optionalFn = (what: string, bundle: OpenNextHandlerBundle | undefined) => bundle ? fn(what, bundle) : undefined;
  const buildIdFile = join(assetsDir, 'BUILD_ID');
  const buildId = existsSync(buildIdFile) ? readFileSync(buildIdFile, 'utf8').trim() : findBuildId(outputDir);

  const server = fn('server function (origins.default)', origins.default);
  const imageOptimizer = fn('image optimization function (origins.imageOptimizer)', origins.imageOptimizer);
  checkSharpForLambda(imageOptimizer.dir);
  const splitServers = splitOrigins.map((key) => ({ key, fn: fn(`split server function "${key}" (origins.${key})`, origins[key] as OpenNextFunctionOrigin) }));
  const dynamoTagCache = !additional.disableTagCache
    && [server, ...splitServers.map((x) => x.fn)].some((f) => ['dynamodb', 'dynamodb-lite', undefined].includes(f.tagCache));
  return {
    outputDir,
    buildId,
    output,
    dynamoTagCache,
    server,
    splitServers,
    imageOptimizer,
    revalidation: additional.disableIncrementalCache ? undefined : optionalFn('revalidation function', additional.revalidationFunction),
    initialization: additional.disableTagCache ? undefined : optionalFn('tag cache initialization function', additional.initializationFunction),
    warmer: optionalFn('warmer function', additional.warmer),
    assetsDir,
    assetsKeyPrefix: assetCopy.to,
    versionedSubDir: assetCopy.versionedSubDir ?? '_next',
    cacheDir: cacheCopy ? folder('ISR cache', cacheCopy.from) : undefined,
    cacheKeyPrefix: cacheCopy?.to ?? '_cache',
    publicItems: readdirSync(assetsDir, { withFileTypes: true })
      .map((e) => ({ name: e.name, isDirectory: e.isDirectory() }))
      .sort((a, b) => a.name.localeCompare(b.name)),
  };
}

/**
 * The image function runs on arm64 Linux. sharp 0.33+ loads its native code from one
 * `@img/sharp-<os>-<cpu>` package per platform, which npm installs for the CPU it is told:
 * OpenNext 3.x passes `--arch`, which npm 10+ ignores, so an `imageOptimization.install` of
 * sharp 0.33+ gets the build machine's binaries, and every image request would fail on Lambda.
 */
function checkSharpForLambda(imageDir: string): void {
  const imgDir = join(imageDir, 'node_modules', '@img');
  if (!existsSync(imgDir)) return;
  const natives = readdirSync(imgDir).filter((name) => /^sharp-(?!libvips-|wasm)[a-z]+-[a-z0-9]+$/.test(name));
  if (natives.length === 0 || natives.includes('sharp-linux-arm64')) return;
  throw new Error(`OpenNextSite: the image optimization function (${imageDir}) has sharp's native code for ${natives.map((n) => n.replace(/^sharp-/, '')).join(', ')}, `
    + 'but runs on linux-arm64 (@img/sharp-linux-arm64 is missing), so every image request would fail. With @opennextjs/aws 3.x, add '
    + '`additionalArgs: \'--cpu=arm64\'` to `imageOptimization.install` in open-next.config.ts (npm 10+ ignores the `--arch` that 3.x passes), then build again.');
}

/** Resolves a manifest path ("`.open-next/...`") even when the folder was renamed or moved. */
function inOutputDir(outputDir: string, appDir: string, path: string): string {
  const direct = resolve(appDir, path);
  if (existsSync(direct)) return direct;
  const parts = path.split('/');
  return parts[0] === '.open-next' ? join(outputDir, ...parts.slice(1)) : direct;
}

function findBuildId(outputDir: string): string {
  const cache = join(outputDir, 'cache');
  const ids = existsSync(cache) ? readdirSync(cache) : [];
  if (ids.length === 1) return ids[0];
  throw new Error(`OpenNextSite: cannot tell the Next.js build id of ${outputDir} (no assets/BUILD_ID). ${HOW_TO_BUILD}`);
}

/** All files under `dir`, as POSIX paths relative to it. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, entry.name);
      if (entry.isDirectory()) walk(path);
      else out.push(relative(dir, path).split('\\').join('/'));
    }
  };
  walk(dir);
  return out.sort();
}
