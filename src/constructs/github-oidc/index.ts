export * from './subject';
export * from './github-oidc-provider';
export * from './github-deploy-role';
