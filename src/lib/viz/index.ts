// The dashboard's figures: pure d3 render functions, `figure(target, data, options)` → handle.
export type { FigureHandle, Target } from './figure';
export { headMap, rankHeads, HEAD_MAP_DEFAULTS, type HeadMapData, type HeadMapOptions, type RankedHead } from './headMap';
export { attentionPattern, ATTENTION_PATTERN_DEFAULTS, type AttentionPatternData, type AttentionPatternOptions } from './attentionPattern';
export { modelView, MODEL_VIEW_DEFAULTS, type ModelViewData, type ModelViewOptions } from './modelView';
export {
	subtaskDiagram,
	SUBTASK_DIAGRAM_DEFAULTS,
	type SubtaskDiagramData,
	type SubtaskDiagramOptions,
	type SubtaskDigit,
	type SubtaskHead
} from './subtaskDiagram';
export {
	lossCurves,
	trainingLogSeries,
	downsampleMinMax,
	LOSS_CURVES_DEFAULTS,
	type LossCurvesData,
	type LossCurvesOptions,
	type LossSeries,
	type LossPoint,
	type TrainingLog,
	type TrainingLogField
} from './lossCurves';
export { svgToString, svgToBlob, svgToPngBlob, type ExportOptions, type PngOptions } from './exportFigure';
export { OKABE_ITO, SUBTASKS, SUBTASK_COLORS, SUBTASK_NAMES, type Subtask } from './palette';
