import adapter from '@sveltejs/adapter-static';

/** Static site: every page prerendered, so `npm run build` output works from any static host. */
export default {
	kit: {
		adapter: adapter({ pages: 'build', assets: 'build', fallback: undefined, strict: true }),
		paths: { relative: true }
	}
};
