export * from './open-next-site-props';
export * from './open-next-site';
