// DOT -> SVG with Graphviz compiled to WebAssembly (@viz-js/viz: the wasm is embedded in
// the package, so nothing is installed on the system and nothing is fetched). The
// Graphviz instance is created once per process and reused.
import { instance, type Viz } from '@viz-js/viz';
import { SsmcError } from '../errors.ts';

let viz: Promise<Viz> | undefined;

function graphviz(): Promise<Viz> {
  viz ??= instance();
  return viz;
}

export interface SvgResult {
  readonly svg: string;
  /** Graphviz's warnings (empty for the drawings ssmc makes). */
  readonly warnings: readonly string[];
}

/** Lays out and renders DOT text as SVG; a DOT Graphviz rejects is an E_SYNTAX error with its messages. */
export async function renderSvgWithWarnings(dot: string): Promise<SvgResult> {
  const v = await graphviz();
  const r = v.render(dot, { format: 'svg', engine: 'dot' });
  const messages = r.errors.map((e) => `${e.level ?? 'error'}: ${e.message.trim()}`);
  if (r.status !== 'success') throw new SsmcError('E_SYNTAX', `Graphviz could not render the graph: ${messages.join('; ') || 'no reason given'}`);
  return { svg: r.output, warnings: messages };
}

export async function renderSvg(dot: string): Promise<string> {
  return (await renderSvgWithWarnings(dot)).svg;
}

/** The Graphviz version that renders (for reports). */
export async function graphvizVersion(): Promise<string> {
  return (await graphviz()).graphvizVersion;
}
