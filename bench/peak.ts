// This machine's f32 GEMM peak on onnxruntime-node: one MatMul of two n × n matrices in a session
// with the engine's default options (the CPU provider's default intra-op threads), best of a few runs.
// 2 FLOPs per multiply-add.
import * as ort from 'onnxruntime-node';
import { GraphWriter } from '../src/lib/core/graph/onnx';

export async function ortGemmPeak(n = 2048, repeats = 5): Promise<number> {
	const g = new GraphWriter();
	g.input('a', 'float32', [n, n]);
	const b = new Float32Array(n * n).map(() => Math.random());
	g.weight('b', b, [n, n]);
	g.matmul('a', g.use('b'), 'c');
	g.output('c', 'float32', [n, n]);
	const session = await ort.InferenceSession.create(g.encode('gemm peak'), { executionProviders: ['cpu'] });
	const a = new ort.Tensor('float32', new Float32Array(n * n).map(() => Math.random()), [n, n]);
	let best = Infinity;
	try {
		for (let i = 0; i <= repeats; i++) {
			const t = performance.now();
			const out = await session.run({ a });
			const s = (performance.now() - t) / 1000;
			out.c.dispose();
			if (i > 0) best = Math.min(best, s); // the first run warms up
		}
	} finally {
		await session.release();
	}
	return (2 * n ** 3) / best / 1e9;
}
