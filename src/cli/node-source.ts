// FileSource over a local model folder (node:fs), for the CLI and tests.
import { readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import type { FileSource } from '../lib/core/model/index';

export function folderSource(path: string): FileSource {
	const root = resolve(path);
	return {
		id: root,
		async read(name, onProgress) {
			// Only plain names inside the folder: the loader passes names taken from downloaded index files.
			if (name !== basename(name) || name.startsWith('.')) throw new Error(`folderSource: refusing to read '${name}'`);
			const file = join(root, name);
			try {
				if (!(await stat(file)).isFile()) return null;
				const buf = await readFile(file);
				const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength); // a plain Uint8Array view
				onProgress?.(bytes.length, bytes.length);
				return bytes;
			} catch (e) {
				if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
				throw e;
			}
		}
	};
}
