// ONNX graph builder: canonical Spec + weights -> model bytes with the requested hooks as outputs.
export { buildGraph } from './forward';
export { INPUTS, OUTPUTS, hookDims } from './context';
export type { GraphOptions, HeadInterventions, MlpInterventions, LogitPositions } from './context';
