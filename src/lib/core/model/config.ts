// config.json -> Spec for the two folder formats of DESIGN §2: Hugging Face (model_type gpt2, llama,
// qwen2, gpt_neox) and TransformerLens (a HookedTransformerConfig dict). Mirrors
// models/train/checkpoints.py spec_from_config, and checks every value's type and range so a bad
// config fails here, by name, rather than as a shape error deep in the graph.
import { ModelLoadError } from './errors';
import type { Act, Norm, Positional, Spec } from './spec';

type Config = Record<string, unknown>;
const FILE = 'config.json';
const SUPPORTED_MODEL_TYPES = ['gpt2', 'llama', 'qwen2', 'gpt_neox'] as const;
const ACTS: Act[] = ['relu', 'gelu', 'gelu_new', 'silu'];
// Other spellings Hugging Face uses for the same functions (transformers' ACT2FN).
const ACT_ALIASES: Record<string, Act> = { gelu_pytorch_tanh: 'gelu_new', swish: 'silu' };

const fail = (problem: string): never => {
	throw new ModelLoadError(FILE, problem);
};

/** The value of `key`, with JSON null read as absent (Python's cfg.get(key) or default). */
const get = (cfg: Config, key: string): unknown => (cfg[key] === null ? undefined : cfg[key]);

function int(cfg: Config, key: string, fallback?: number): number {
	const v = get(cfg, key) ?? fallback;
	if (v === undefined) return fail(`missing field '${key}'`);
	if (!Number.isSafeInteger(v) || (v as number) < 0) return fail(`field '${key}' must be a non-negative integer, got ${JSON.stringify(v)}`);
	return v as number;
}
/** Python's `cfg.get(key) or fallback`: 0 and null both mean "use the fallback". */
const intOr = (cfg: Config, key: string, fallback: number): number => int(cfg, key, fallback) || fallback;

function num(cfg: Config, key: string, fallback: number): number {
	const v = get(cfg, key) ?? fallback;
	if (typeof v !== 'number' || !Number.isFinite(v)) return fail(`field '${key}' must be a finite number, got ${JSON.stringify(v)}`);
	return v;
}
function bool(cfg: Config, key: string, fallback: boolean): boolean {
	const v = get(cfg, key) ?? fallback;
	if (typeof v !== 'boolean') return fail(`field '${key}' must be true or false, got ${JSON.stringify(v)}`);
	return v;
}
function oneOf<T extends string>(key: string, v: unknown, allowed: readonly T[]): T {
	if (!allowed.includes(v as T)) return fail(`field '${key}' is ${JSON.stringify(v)}, supported: ${allowed.join(', ')}`);
	return v as T;
}
function act(cfg: Config, key: string, fallback: Act): Act {
	const v = get(cfg, key) ?? fallback;
	return oneOf(key, typeof v === 'string' ? (ACT_ALIASES[v] ?? v) : v, ACTS);
}

function isTransformerLens(cfg: Config): boolean {
	return !('model_type' in cfg) && ['n_layers', 'd_model', 'd_head', 'n_heads', 'act_fn'].every((k) => k in cfg);
}

const DEFAULTS = {
	n_kv_heads: 0, eps: 1e-5, gated: false, attn_only: false, pos: 'standard' as Positional, rotary_dim: 0,
	rotary_base: 10000, parallel: false, qkv_bias: true, o_bias: true, mlp_bias: true, norm_bias: true,
	unembed_bias: false, tied: false, attn_scale: 0
};

export function specFromConfig(config: unknown): Spec {
	if (typeof config !== 'object' || config === null || Array.isArray(config)) return fail('not a JSON object');
	const cfg = config as Config;
	const spec = isTransformerLens(cfg) ? tlSpec(cfg) : hfSpec(cfg);
	checkSpec(spec);
	return spec;
}

function hfSpec(cfg: Config): Spec {
	const mt = cfg.model_type;
	if (mt === 'gpt2') {
		const D = int(cfg, 'n_embd');
		const H = int(cfg, 'n_head');
		if (get(cfg, 'scale_attn_by_inverse_layer_idx') || get(cfg, 'reorder_and_upcast_attn'))
			fail('scale_attn_by_inverse_layer_idx / reorder_and_upcast_attn are not supported');
		if (!bool(cfg, 'scale_attn_weights', true)) fail('scale_attn_weights false is not supported (only true)');
		if (H === 0 || D % H !== 0) fail(`n_embd ${D} is not a multiple of n_head ${H}`);
		// GPT-2 has biases everywhere and a learned position table; Conv1D layout is handled in checkpoints/gpt2.ts.
		return { ...DEFAULTS, family: 'gpt2', n_layers: int(cfg, 'n_layer'), d_model: D, n_heads: H, n_kv_heads: H,
			d_head: D / H, d_mlp: intOr(cfg, 'n_inner', 4 * D), d_vocab: int(cfg, 'vocab_size'),
			n_ctx: int(cfg, 'n_positions'), norm: 'LN', eps: num(cfg, 'layer_norm_epsilon', 1e-5),
			act: act(cfg, 'activation_function', 'gelu_new'), pos: 'standard', tied: bool(cfg, 'tie_word_embeddings', true) };
	}
	if (mt === 'llama' || mt === 'qwen2') {
		const D = int(cfg, 'hidden_size');
		const H = int(cfg, 'num_attention_heads');
		const dh = intOr(cfg, 'head_dim', H ? Math.floor(D / H) : 0);
		const rs = get(cfg, 'rope_scaling') as Config | undefined;
		if (rs !== undefined) {
			const kind = typeof rs === 'object' ? (get(rs, 'rope_type') ?? get(rs, 'type')) : rs;
			if (kind !== undefined && kind !== 'default') fail('rope_scaling is not supported (only default RoPE)');
		}
		// Qwen2 always has q/k/v biases and never an o_proj bias; Llama has both or neither (attention_bias).
		const bias = mt === 'qwen2' ? true : bool(cfg, 'attention_bias', false);
		// With mlp_bias HF gives gate_proj a bias too, which the canonical weights have no slot for.
		if (bool(cfg, 'mlp_bias', false)) fail('mlp_bias true is not supported (only false)');
		return { ...DEFAULTS, family: mt, n_layers: int(cfg, 'num_hidden_layers'), d_model: D, n_heads: H,
			n_kv_heads: intOr(cfg, 'num_key_value_heads', H), d_head: dh, d_mlp: int(cfg, 'intermediate_size'),
			d_vocab: int(cfg, 'vocab_size'), n_ctx: int(cfg, 'max_position_embeddings', 2048), norm: 'RMS',
			eps: num(cfg, 'rms_norm_eps', 1e-6), act: act(cfg, 'hidden_act', 'silu'), gated: true, pos: 'rotary',
			rotary_dim: dh, rotary_base: num(cfg, 'rope_theta', 10000), qkv_bias: bias,
			o_bias: mt === 'llama' ? bias : false, mlp_bias: false,
			tied: bool(cfg, 'tie_word_embeddings', false) };
	}
	if (mt === 'gpt_neox') {
		const D = int(cfg, 'hidden_size');
		const H = int(cfg, 'num_attention_heads');
		if (H === 0 || D % H !== 0) fail(`hidden_size ${D} is not a multiple of num_attention_heads ${H}`);
		const dh = D / H;
		// Older configs say rotary_pct, newer ones partial_rotary_factor; NeoX rotates only that fraction of each head.
		const pct = num(cfg, 'rotary_pct', num(cfg, 'partial_rotary_factor', 0.25));
		if (pct < 0 || pct > 1) fail(`rotary_pct ${pct} must be between 0 and 1`);
		const bias = bool(cfg, 'attention_bias', true);
		return { ...DEFAULTS, family: 'gpt_neox', n_layers: int(cfg, 'num_hidden_layers'), d_model: D, n_heads: H,
			n_kv_heads: H, d_head: dh, d_mlp: int(cfg, 'intermediate_size'), d_vocab: int(cfg, 'vocab_size'),
			n_ctx: int(cfg, 'max_position_embeddings', 2048), norm: 'LN', eps: num(cfg, 'layer_norm_eps', 1e-5),
			act: act(cfg, 'hidden_act', 'gelu'), pos: 'rotary', rotary_dim: Math.trunc(dh * pct),
			rotary_base: num(cfg, 'rotary_emb_base', num(cfg, 'rope_theta', 10000)),
			parallel: bool(cfg, 'use_parallel_residual', true), qkv_bias: bias, o_bias: bias,
			tied: bool(cfg, 'tie_word_embeddings', false) };
	}
	return fail(`unsupported model_type ${JSON.stringify(mt ?? null)} (supported: ${SUPPORTED_MODEL_TYPES.join(', ')}, ` +
		'or a TransformerLens config with n_layers, d_model, d_head, n_heads, act_fn and no model_type)');
}

function tlSpec(cfg: Config): Spec {
	// HookedTransformerConfig's defaults: a missing normalization_type is LN, an explicit null is none.
	const normType = 'normalization_type' in cfg ? cfg.normalization_type || 'None' : 'LN';
	const norm = oneOf('normalization_type', normType, ['LN', 'LNPre', 'RMS', 'None'] as Norm[]);
	const pos = oneOf('positional_embedding_type', get(cfg, 'positional_embedding_type') ?? 'standard', ['standard', 'rotary'] as Positional[]);
	// Options of HookedTransformer that change the forward in ways the engine does not implement.
	if (get(cfg, 'rotary_adjacent_pairs') === true) fail("rotary_adjacent_pairs: true is not supported (only rotate_half RoPE)");
	const types = get(cfg, 'attn_types');
	if (Array.isArray(types) && types.some((t) => t !== 'global')) fail("attn_types other than 'global' (local attention) are not supported");
	const H = int(cfg, 'n_heads');
	const dh = int(cfg, 'd_head');
	const attnOnly = bool(cfg, 'attn_only', false);
	// TransformerLens's sentinels: attn_scale -1 (or unset) means sqrt(d_head), and scores are divided
	// by it unless use_attn_scale is false; d_mlp null means 4 * d_model; rotary_dim null means d_head.
	const scaleSet = num(cfg, 'attn_scale', -1);
	const scale = bool(cfg, 'use_attn_scale', true) ? (scaleSet > 0 ? scaleSet : Math.sqrt(dh)) : 1;
	return { ...DEFAULTS, family: 'transformer_lens', n_layers: int(cfg, 'n_layers'), d_model: int(cfg, 'd_model'),
		n_heads: H, n_kv_heads: intOr(cfg, 'n_key_value_heads', H), d_head: dh,
		d_mlp: intOr(cfg, 'd_mlp', attnOnly ? 0 : 4 * int(cfg, 'd_model')),
		d_vocab: int(cfg, 'd_vocab'), n_ctx: int(cfg, 'n_ctx'), norm, eps: num(cfg, 'eps', 1e-5),
		act: act(cfg, 'act_fn', 'relu'), gated: bool(cfg, 'gated_mlp', false), attn_only: attnOnly,
		pos, rotary_dim: intOr(cfg, 'rotary_dim', pos === 'rotary' ? dh : 0), rotary_base: num(cfg, 'rotary_base', 10000),
		parallel: bool(cfg, 'parallel_attn_mlp', false), unembed_bias: true, attn_scale: scale };
}

/** Relations between fields that every family must satisfy for the weights to make sense. */
function checkSpec(s: Spec): void {
	for (const k of ['n_layers', 'd_model', 'n_heads', 'n_kv_heads', 'd_head', 'd_vocab', 'n_ctx'] as const)
		if (s[k] < 1) fail(`${k} must be at least 1, got ${s[k]}`);
	if (!s.attn_only && s.d_mlp < 1) fail('d_mlp must be at least 1 for a model with MLPs');
	if (s.n_heads % s.n_kv_heads !== 0) fail(`n_heads ${s.n_heads} is not a multiple of the key/value head count ${s.n_kv_heads}`);
	if (s.pos === 'rotary' && (s.rotary_dim > s.d_head || s.rotary_dim % 2 !== 0))
		fail(`rotary dimension ${s.rotary_dim} must be even and at most d_head ${s.d_head}`);
	if (!(s.eps > 0)) fail(`norm epsilon must be positive, got ${s.eps}`);
	if (!(s.rotary_base > 0)) fail(`rotary base must be positive, got ${s.rotary_base}`);
	if (!(s.attn_scale >= 0)) fail(`attn_scale must be positive, got ${s.attn_scale}`);
}
