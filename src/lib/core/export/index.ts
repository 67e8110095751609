// Exports: CSV/JSON head tables with provenance, ranking helpers, fine-tuning plans.
export * from './csv';
export * from './rank';
export * from './headTable';
export * from './provenance';
export * from './headSlices';
export * from './plan';
export * from './compare';
