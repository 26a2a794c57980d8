export { OriginVerifiedHttpApi } from './origin-verified-http-api';
export { OriginVerifiedHttpApiProps } from './origin-verified-http-api-props';
