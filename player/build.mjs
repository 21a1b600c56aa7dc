// Build dist/vsrc-player.css (video.js CSS + ours) and dist/vsrc-player.js
// (one minified IIFE, global `VSRCPlayer`, video.js bundled in, with sourcemap).
import * as esbuild from 'esbuild';
import { readFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = dirname(fileURLToPath(import.meta.url));
const dist = join(root, 'dist');
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const watch = process.argv.includes('--watch');
const started = Date.now();
mkdirSync(dist, { recursive: true });

// 1. CSS: bundle the @import of video.js CSS (fonts are inlined as data: URIs).
await esbuild.build({
  entryPoints: [join(root, 'src/styles.css')],
  outfile: join(dist, 'vsrc-player.css'),
  bundle: true,
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
  loader: { '.woff': 'dataurl', '.woff2': 'dataurl', '.ttf': 'dataurl', '.eot': 'dataurl', '.svg': 'dataurl' },
});
const css = readFileSync(join(dist, 'vsrc-player.css'), 'utf8').replace(/\/\*# sourceMappingURL=.*?\*\/\s*$/, '');

// 2. JS: the CSS text is embedded so a single <script> tag is enough.
const cssPlugin = {
  name: 'vsrc-css',
  setup(build) {
    build.onResolve({ filter: /^vsrc:css$/ }, () => ({ path: 'vsrc-css', namespace: 'vsrc-css' }));
    build.onLoad({ filter: /.*/, namespace: 'vsrc-css' }, () => ({
      contents: `export default ${JSON.stringify(css)};`,
      loader: 'js',
    }));
  },
};

const options = {
  entryPoints: [join(root, 'src/index.js')],
  outfile: join(dist, 'vsrc-player.js'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  sourcemap: true,
  legalComments: 'eof',
  define: {
    __VSRC_VERSION__: JSON.stringify(pkg.version),
    'process.env.NODE_ENV': '"production"',
    global: 'globalThis',
  },
  plugins: [cssPlugin],
  logLevel: 'warning',
  banner: { js: `/*! VSRCPlayer ${pkg.version} | video.js bundled (Apache-2.0) */` },
};

// 3. The dashboard's scripts (src/vsrc/web pages load them from /static/js/): same esbuild, same
//    node_modules, one bundle per page kind so the library page stays light.
const dashboard = {
  entryPoints: ['app', 'chart', 'upload'].map((name) => join(root, `dashboard/${name}.js`)),
  outdir: join(dist, 'dashboard'),
  bundle: true,
  format: 'iife',
  platform: 'browser',
  target: ['es2020'],
  minify: true,
  legalComments: 'none',
  loader: { '.css': 'css' },
  logLevel: 'warning',
};

if (watch) {
  const ctx = await esbuild.context(options);
  await ctx.watch();
  console.log('watching...');
} else {
  await esbuild.build(options);
  await esbuild.build(dashboard);
  const size = (f) => (readFileSync(join(dist, f)).length / 1024).toFixed(0);
  console.log(
    `built dist/vsrc-player.js (${size('vsrc-player.js')} KiB) and dist/vsrc-player.css (${size('vsrc-player.css')} KiB) in ${Date.now() - started} ms`,
  );
}
