export * from './restic-backups';
export { PostgresDumpOptions, ResticBackupSource, ResticRetention } from './sources';
