export * from './open-next-site';
