// Progress lines on stderr for downloads and graph builds, only when stderr is a terminal (so logs and
// pipes stay clean).
export interface Progress {
	download(p: { file: string; loaded: number; total: number | null }): void;
	step(message: string): void;
	done(): void;
}

const mb = (n: number) => (n / 1e6).toFixed(1);

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
	if (!stream.isTTY) return { download() {}, step() {}, done() {} };
	let lastDraw = 0;
	let open = false; // a line without its newline is on screen
	const draw = (line: string, final = false) => {
		stream.write(`\r\x1b[K${line}${final ? '\n' : ''}`);
		open = !final;
	};
	return {
		download({ file, loaded, total }) {
			const now = Date.now();
			const finished = total !== null && loaded >= total;
			if (!finished && now - lastDraw < 100) return; // redraw at most 10 times a second
			lastDraw = now;
			draw(`downloading ${file} ${mb(loaded)}${total === null ? '' : `/${mb(total)}`} MB`, finished);
		},
		step: (message) => draw(message, true),
		done() {
			if (open) stream.write('\r\x1b[K');
			open = false;
		}
	};
}
