// Where each head looks when the answer is produced: attention (hook_pattern) from every position that
// predicts an answer token to the operand digits (by place value, units first), the operator and `=`,
// averaged over the prompts that have that digit and answer position. Roles are found in the prompt
// text (the last two digit runs = a and b, the non-space text between = operator, last '=' after b) and
// mapped to token positions through the tokenizer; a token holding several digits (GPT-2's `816`)
// counts for each of them.
import { hookName } from '../model/hooks';
import { maxOf } from '../model/arrays';
import { characterTokens, type ArithTokenizer } from '../model/index';
import type { Tensor } from '../model/tensor';
import type { PromptRecord } from '../tasks/promptFile';
import { forEachBatch } from './batches';
import { patternRowBytes } from './cost';
import { answerPositions, cleanRow } from './prompts';
import type { ScanContext, ScanOptions } from './scan';

/** Token positions of each role in one prompt (a token may hold several characters). */
export interface OperandRoles {
	/** a's digits, units first: the token positions holding each. */
	a: number[];
	b: number[];
	op: number[];
	/** The '=' token, when the prompt has one after b. */
	eq: number[];
}

/** Roles of an `a <op> b =` prompt, or null when it has fewer than two digit runs. */
export function operandRoles(tokenizer: ArithTokenizer, prompt: string): OperandRoles | null {
	const runs = [...prompt.matchAll(/\d+/g)];
	if (runs.length < 2) return null;
	const [ra, rb] = runs.slice(-2); // the last two: few-shot prompts put solved problems in front
	const tok = characterTokens(tokenizer, tokenizer.encode(prompt), prompt);
	if (!tok) return null; // the tokenizer rewrites the text, so characters cannot be placed on tokens
	const digits = (m: RegExpMatchArray) => Array.from({ length: m[0].length }, (_, j) => tok[m.index! + m[0].length - 1 - j]);
	const opStart = ra.index! + ra[0].length;
	const op: number[] = [];
	for (let i = opStart; i < rb.index!; i++) if (prompt[i].trim() !== '') op.push(tok[i]);
	const eqAt = prompt.lastIndexOf('=');
	return { a: digits(ra), b: digits(rb), op: [...new Set(op)], eq: eqAt > rb.index! ? [tok[eqAt]] : [] };
}

export interface OperandAttention {
	/** Target labels: a0 (a's units digit), a1…, op, b0, b1…, '='. */
	targets: string[];
	/** Mean attention [L, H, A, K] from the position predicting answer token i (A = longest answer) to target k. */
	attention: Tensor;
	/** Prompts averaged per (answer position, target) [A, K]. */
	counts: Int32Array;
}

export async function operandAttention(ctx: ScanContext, records: readonly PromptRecord[], tokenizer: ArithTokenizer, options: ScanOptions = {}): Promise<OperandAttention> {
	const { engine, set, spec: s } = ctx;
	const { n_layers: L, n_heads: H } = s;
	const roles = records.map((r) => operandRoles(tokenizer, r.prompt));
	const da = maxOf(roles.map((r) => r?.a.length ?? 0), 0);
	const db = maxOf(roles.map((r) => r?.b.length ?? 0), 0);
	const targets = [...Array.from({ length: da }, (_, j) => `a${j}`), 'op', ...Array.from({ length: db }, (_, j) => `b${j}`), '='];
	const K = targets.length;
	const A = set.maxAnswer;
	const sum = new Float64Array(L * H * A * K);
	const counts = new Int32Array(A * K);
	const targetTokens = (r: OperandRoles): number[][] => [...Array.from({ length: da }, (_, j) => (j < r.a.length ? [r.a[j]] : [])), r.op, ...Array.from({ length: db }, (_, j) => (j < r.b.length ? [r.b[j]] : [])), r.eq];
	const hooks = Array.from({ length: L }, (_, l) => hookName('attn.hook_pattern', l));

	for (const group of set.groups) {
		const T = group.length;
		const scored = group.members.filter((n) => roles[n]); // prompts without two operands have no roles
		await forEachBatch(scored, patternRowBytes(s, T), options, async (members, at) => {
			const tokens = members.map((n) => cleanRow(set.prompts[n]));
			const { cache } = await engine.run(tokens, { hooks, positions: members.map(() => [0]) });
			members.forEach((n, b) => {
				const tt = targetTokens(roles[n]!);
				answerPositions(set.prompts[n]).forEach((q, i) => {
					tt.forEach((toks, k) => {
						if (toks.length === 0) return;
						counts[i * K + k] += 1;
						for (let l = 0; l < L; l++) {
							const p = cache.get(hooks[l])!.data; // [B, H, T, T]
							for (let h = 0; h < H; h++) {
								let w = 0;
								for (const t of toks) w += p[((b * H + h) * T + q) * T + t];
								sum[((l * H + h) * A + i) * K + k] += w;
							}
						}
					});
				});
			});
			options.onProgress?.({ done: at + members.length, total: scored.length, stage: 'attention' });
		});
	}
	const attention = new Float32Array(sum.length);
	for (let i = 0; i < sum.length; i++) {
		const c = counts[i % (A * K)];
		attention[i] = c ? sum[i] / c : NaN;
	}
	return { targets, attention: { data: attention, shape: [L, H, A, K] }, counts };
}
