export { OriginVerifiedHttpApi } from './origin-verified-http-api';
export * from './origin-verified-http-api-props';
