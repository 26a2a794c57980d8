export * from './restic-backups';
