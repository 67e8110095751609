// FileSource over a local model folder (node:fs), for the CLI and tests.
import { readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { ModelLoadError, type FileSource } from '../lib/core/model/index';

export function folderSource(path: string): FileSource {
	const root = resolve(path);
	let allowed: Promise<string[]> | undefined;
	return {
		id: root,
		async read(name, onProgress) {
			// Only plain names inside the folder: the loader passes names taken from downloaded index files.
			if (name !== basename(name) || name.startsWith('.')) throw new Error(`folderSource: refusing to read '${name}'`);
			try {
				const dirs = await (allowed ??= allowedRoots(root)); // ENOENT: no folder, so no file
				// A link may point anywhere (`config.json -> /etc/passwd`): read only files that really are in
				// the folder, so nothing outside it is read or quoted in an error.
				const real = await realpath(join(root, name));
				if (!dirs.some((dir) => real.startsWith(dir + sep)))
					throw new ModelLoadError(name, 'a link to a file outside the model folder');
				if (!(await stat(real)).isFile()) return null;
				const buf = await readFile(real);
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

/**
 * Real paths a model folder's files may resolve to: the folder, and for a Hugging Face cache
 * snapshot (`models--org--name/snapshots/<revision>`, whose files link to `../../blobs/<sha>`) the
 * same repository's blobs.
 */
async function allowedRoots(root: string): Promise<string[]> {
	const dirs = [await realpath(root)];
	if (basename(dirname(root)) === 'snapshots' && basename(dirname(dirname(root))).startsWith('models--'))
		dirs.push(await realpath(join(root, '..', '..', 'blobs')).catch(() => dirs[0]));
	return dirs;
}
