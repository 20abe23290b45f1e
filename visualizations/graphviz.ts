// DOT → SVG with Graphviz compiled to WebAssembly (@hpcc-js/wasm-graphviz):
// offline, no system Graphviz needed, and the same output on every machine
// for the same package version (text is measured with Graphviz's built-in
// font metrics, not the machine's fonts).
import { Graphviz } from '@hpcc-js/wasm-graphviz';

let loading: Promise<Graphviz> | undefined;

function graphviz(): Promise<Graphviz> {
  loading ??= Graphviz.load();
  return loading;
}

export class GraphvizError extends Error {
  override readonly name = 'GraphvizError';
}

/** Renders DOT source to an SVG document (with the XML prolog Graphviz writes). */
export async function dotToSvg(dot: string): Promise<string> {
  const gv = await graphviz();
  let svg: string;
  try {
    svg = gv.dot(dot, 'svg');
  } catch (error) {
    throw new GraphvizError(`Graphviz could not lay out the graph: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
  }
  if (!svg.includes('<svg')) throw new GraphvizError('Graphviz returned no SVG');
  return svg.endsWith('\n') ? svg : `${svg}\n`;
}

/** The Graphviz version inside the WebAssembly build. */
export async function graphvizVersion(): Promise<string> {
  return (await graphviz()).version();
}
