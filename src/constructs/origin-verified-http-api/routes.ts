/**
 * Route planning of OriginVerifiedHttpApi (internal: not exported from the package).
 */
/** One HTTP API route: its public path, the backend path template, and its authorizer kind. */
export interface PlannedRoute {
  readonly path: string;
  readonly backendPath: string;
  readonly protected: boolean;
}

export const PATH = /^(\/[A-Za-z0-9._~-]+)+$/;

/**
 * The routes for the path mappings: `P` and `P/{proxy+}` for every mapped and every
 * protected prefix, each sent to the backend path of the longest mapped prefix it lies under.
 */
export function planRoutes(paths: { [publicPrefix: string]: string }, protectedPaths: string[]): PlannedRoute[] {
  const mapped = Object.keys(paths).sort((a, b) => b.length - a.length);
  const backendFor = (publicPath: string): string => {
    const prefix = mapped.find((p) => p === '/' || publicPath === p || publicPath.startsWith(`${p}/`));
    if (prefix === undefined) throw new Error(`no mapping for ${publicPath}`);
    const rest = prefix === '/' ? publicPath : publicPath.slice(prefix.length);
    return join(paths[prefix], rest);
  };
  const routes: PlannedRoute[] = [];
  const add = (prefix: string, isProtected: boolean) => {
    const base = backendFor(prefix);
    if (prefix === '/') {
      routes.push({ path: '/{proxy+}', backendPath: join(base, '$request.path.proxy'), protected: isProtected });
      return;
    }
    routes.push({ path: prefix, backendPath: base, protected: isProtected });
    routes.push({ path: `${prefix}/{proxy+}`, backendPath: join(base, '$request.path.proxy'), protected: isProtected });
  };
  for (const prefix of Object.keys(paths)) add(prefix, false);
  for (const prefix of protectedPaths) add(prefix, true);
  return routes;
}

function join(base: string, rest: string): string {
  const trimmed = base.replace(/\/+$/, '');
  const tail = rest.replace(/^\/+/, '');
  if (!tail) return trimmed || '/';
  return `${trimmed}/${tail}`;
}

