// Preloaded (node --import) into a handler process that makes real HTTPS requests to a site's
// domain, e.g. OpenNext's revalidation function: HOST_MAP="site.test=127.0.0.1:8443" sends
// requests for https://site.test/... to the local CloudFront harness instead (the role DNS
// plays on AWS). The Host header and the path stay as they were.
import https from 'node:https';

const map = new Map((process.env.HOST_MAP ?? '').split(',').filter(Boolean).map((pair) => {
  const [name, target] = pair.split('=');
  const [hostname, port] = target.split(':');
  return [name, { hostname, port: Number(port) }];
}));

const original = https.request;
https.request = function request(url, options, callback) {
  if (typeof url === 'string' || url instanceof URL) {
    const u = new URL(url);
    const target = map.get(u.hostname);
    if (target) {
      const opts = typeof options === 'function' ? {} : { ...options };
      const cb = typeof options === 'function' ? options : callback;
      return original.call(https, {
        ...opts, protocol: 'https:', hostname: target.hostname, port: target.port, path: `${u.pathname}${u.search}`,
        headers: { ...(opts.headers ?? {}), host: u.host }, servername: undefined,
      }, cb);
    }
  }
  return original.apply(https, arguments);
};
