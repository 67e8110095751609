// --model: a local folder when the path exists, otherwise a Hugging Face hub id (owner/name).
import { statSync } from 'node:fs';
import { hubSource, type FileSource } from '../lib/core/model/index';
import { InputError } from './errors';
import { folderSource } from './node-source';

export const DEFAULT_HUB_HOST = 'https://huggingface.co';
const HUB_ID = /^[\w.-]+\/[\w.-]+$/;

export interface ModelArgs {
	model: string;
	revision?: string;
	hubHost?: string;
}

/** The source, and whether it is remote (downloads then get a progress line). */
export function resolveModelSource({ model, revision, hubHost }: ModelArgs): { source: FileSource; remote: boolean } {
	const stats = statSync(model, { throwIfNoEntry: false });
	if (stats) {
		if (!stats.isDirectory()) throw new InputError(`--model: '${model}' is a file; give the model's folder`);
		if (revision !== undefined || hubHost !== undefined)
			throw new InputError(`--model: '${model}' is a local folder; --revision and --hub-host apply to hub ids only`);
		return { source: folderSource(model), remote: false };
	}
	if (!HUB_ID.test(model) || model.includes('..'))
		throw new InputError(`--model: no folder '${model}', and not a hub id (owner/name)`);
	const host = hubHost ?? DEFAULT_HUB_HOST;
	if (!/^https?:\/\/[^/]/.test(host)) throw new InputError(`--hub-host: '${host}' is not an http(s) URL`);
	if (revision === '') throw new InputError('--revision: empty');
	// Node has no Cache API: every run downloads (the tiny arithmetic models are a few MB at most).
	return { source: hubSource(model, { revision, host, cache: null }), remote: true };
}
