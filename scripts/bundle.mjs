// The image's gateway: dist/runtime/main.js (tsc's output) bundled by esbuild
// into dist/image/ — one module graph with whitespace and syntax minified
// (names kept, so stack traces and statechart names read as in the source),
// code-split so what loads lazily (the OpenTelemetry SDK, the live inspector)
// stays in chunks of its own. Bundling halves the heap the gateway needs at
// rest: V8 keeps every module's source text, and the dependencies' sources
// (client-node's generated APIs, the AWS SDK) are tens of megabytes as
// published. `netlink` stays a package: it loads a native binding.
import { build } from 'esbuild';

await build({
  entryPoints: ['dist/runtime/main.js'],
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  splitting: true,
  outdir: 'dist/image',
  minifyWhitespace: true,
  minifySyntax: true,
  keepNames: true,
  sourcemap: true,
  external: ['netlink'],
  // CommonJS dependencies inside an ES module bundle call require() for Node's built-ins.
  banner: { js: "import { createRequire as __ehgCreateRequire } from 'node:module'; const require = __ehgCreateRequire(import.meta.url);" },
  logLevel: 'warning',
});
