export * from './graviton-data-host';
