// The library's public API: reusable constructs only. The zmanim app (src/app.ts,
// src/zmanim/) is not exported and not published.
export * from './constructs/generated-secrets';
export * from './constructs/github-oidc';
export * from './constructs/origin-verified-http-api';
export * from './constructs/managed-host';
export * from './constructs/graviton-data-host';
export * from './constructs/open-next-site';
export * from './constructs/restic-backups';
