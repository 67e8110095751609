// Runtime API shared by every entry; import createNodeEngine from './node' or createWebEngine from './web'.
export { createEngine } from './engine';
export type { Engine, EngineOptions, Interventions, ModelLike, RunOptions, RunResult } from './engine';
export { BACKENDS } from './backends';
export type { Backend, BackendName, OrtModule } from './backends';
