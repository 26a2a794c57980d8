export { OriginVerifiedHttpApi, OriginVerifiedHttpApiProps } from './origin-verified-http-api';
