// Experiments: scans (ablation, activation patching, path patching), circuits and their metrics.
export * from './metrics';
export * from './prompts';
export * from './scores';
export * from './cost';
export * from './cache';
export * from './replacements';
export * from './scan';
export * from './components';
export * from './ablation';
export * from './patching';
export * from './evaluate';
export * from './methods';
export * from './faithfulness';
export * from './operandAttention';
export * from './multiplication';
