// Runs arithlens core off the main thread: model loading, the engine, evaluation and scans. Each
// request gets an AbortController; `cancel` aborts it and the call rejects with an AbortError.
import { attention, circuitFaithfulness, evaluate, scan } from './experiments';
import { attentionPatterns } from './pattern';
import { attribute, edges } from './residual';
import { compare } from './compare';
import { checkpointIprs, importance, lens, neuronGrid, prune, sweep } from './neurons';
import { transferables, type CallName, type Calls, type Request, type Response, type WorkerError } from './protocol';
import { load, setBackend } from './session';

interface Ctx<K extends CallName> {
	signal: AbortSignal;
	progress: (p: Calls[K]['progress']) => void;
}
type Handlers = { [K in CallName]: (args: Calls[K]['args'], ctx: Ctx<K>) => Promise<Calls[K]['result']> };

const handlers: Handlers = {
	load: (args, { progress }) => load(args.source, args.backend, progress, args.maxBytes),
	setBackend: (args, { progress }) => setBackend(args.backend, progress),
	pattern: (args) => attentionPatterns(args),
	evaluate: (args, { signal, progress }) => evaluate(args.prompts, signal, progress),
	scan: (args, { signal, progress }) => scan(args, signal, progress),
	attention: (args, { signal, progress }) => attention(args.prompts, signal, progress),
	faithfulness: (args, { signal, progress }) => circuitFaithfulness(args, signal, progress),
	attribute: (args, { signal, progress }) => attribute(args.prompts, signal, progress),
	edges: (args, { signal, progress }) => edges(args, signal, progress),
	compare: (args, { signal, progress }) => compare(args, signal, progress),
	neurons: (args, { signal, progress }) => lens(args, signal, progress),
	neuronGrid: async (args) => neuronGrid(args.layer, args.neuron),
	prune: (args, { signal, progress }) => prune(args, signal, progress),
	sweep: (args, { signal, progress }) => sweep(args, signal, progress),
	neuronImportance: (args, { signal, progress }) => importance(args, signal, progress),
	neuronCheckpoints: (args, { signal, progress }) => checkpointIprs(args, signal, progress)
};

const running = new Map<number, AbortController>();
const post = (msg: Response, transfer: Transferable[] = []) => (self as unknown as Worker).postMessage(msg, transfer);

self.addEventListener('message', async (e: MessageEvent<Request>) => {
	const req = e.data;
	if (req.type === 'cancel') return running.get(req.id)?.abort();
	const controller = new AbortController();
	running.set(req.id, controller);
	const ctx = { signal: controller.signal, progress: (progress: Calls[CallName]['progress']) => post({ id: req.id, type: 'progress', progress }) };
	try {
		const handler = handlers[req.type] as (args: unknown, ctx: Ctx<CallName>) => Promise<Calls[CallName]['result']>;
		const result = await handler(req.args, ctx);
		post({ id: req.id, type: 'result', result }, transferables(result));
	} catch (err) {
		const { name = 'Error', message = String(err), needBytes, limitBytes } = (err ?? {}) as WorkerError;
		const error: WorkerError = { name, message };
		// a model refused for its size (ModelLoadError): the page offers to load it anyway
		if (typeof needBytes === 'number' && typeof limitBytes === 'number') Object.assign(error, { needBytes, limitBytes });
		post({ id: req.id, type: 'error', error });
	} finally {
		running.delete(req.id);
	}
});
