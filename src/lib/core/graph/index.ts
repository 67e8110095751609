// ONNX graph builder: canonical Spec + weights -> model bytes with the requested hooks as outputs.
export { buildGraph, buildModel } from './forward';
export type { EncodedModel, ExternalFile } from './onnx';
export { ATTRIBUTION, INPUTS, OUTPUTS, Z_FREE, hookDims } from './context';
export type { GraphOptions, HeadInterventions, MlpInterventions, LogitPositions } from './context';
