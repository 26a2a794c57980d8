export * from './graviton-data-host';
export * from './graviton-data-host-props';
