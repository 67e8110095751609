// Typed contexts, one per feature, so a component asks for exactly the state it shows.
import { createContext } from 'svelte';
import type { AttentionState } from './attention.svelte';
import type { CircuitState } from './circuit.svelte';
import type { CompareState } from './compare.svelte';
import type { Dashboard } from './dashboard.svelte';
import type { FlowState } from './flow.svelte';
import type { ModelState } from './model.svelte';
import type { NeuronsState } from './neurons.svelte';
import type { PatternState } from './pattern.svelte';
import type { ScanState } from './scan.svelte';
import type { SelectionState } from './selection.svelte';
import type { TaskState } from './task.svelte';

export const [getDashboard, setDashboardContext] = createContext<Dashboard>();
export const [getModelState, setModelState] = createContext<ModelState>();
export const [getTaskState, setTaskState] = createContext<TaskState>();
export const [getScanState, setScanState] = createContext<ScanState>();
export const [getSelection, setSelection] = createContext<SelectionState>();
export const [getPatternState, setPatternState] = createContext<PatternState>();
export const [getAttentionState, setAttentionState] = createContext<AttentionState>();
export const [getCircuitState, setCircuitState] = createContext<CircuitState>();
export const [getFlowState, setFlowState] = createContext<FlowState>();
export const [getCompareState, setCompareState] = createContext<CompareState>();
export const [getNeuronsState, setNeuronsState] = createContext<NeuronsState>();

/** Provide the dashboard and each of its feature states to the component tree (call during init). */
export function provideDashboard(d: Dashboard): void {
	setDashboardContext(d);
	setModelState(d.model);
	setTaskState(d.task);
	setScanState(d.scan);
	setSelection(d.selection);
	setPatternState(d.pattern);
	setAttentionState(d.attention);
	setCircuitState(d.circuit);
	setFlowState(d.flow);
	setCompareState(d.compare);
	setNeuronsState(d.neurons);
}
