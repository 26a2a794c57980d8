export * from './restic-backups';
export * from './sources';
