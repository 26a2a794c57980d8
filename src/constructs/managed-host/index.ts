export * from './managed-host';
export * from './host-command';
export * from './host-reference';
