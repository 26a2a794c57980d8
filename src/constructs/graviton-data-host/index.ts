export * from './managed-host';
export * from './graviton-data-host';
