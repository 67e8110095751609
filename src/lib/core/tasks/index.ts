// Arithmetic tasks: formats and spec strings, seeded prompt sets, counterfactuals, prompt files and
// multiplication subtasks.
export * from './task';
export * from './taskSpec';
export * from './rng';
export * from './counterfactual';
export * from './generate';
export * from './promptFile';
export * from './subtasks';
export * from './modular';
