export * from './generated-secrets';
