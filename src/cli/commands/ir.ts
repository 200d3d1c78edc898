// `ssmc ir`: the IR of a model or an IR file, after an optional pipeline, as text (the
// canonical IR text format), DOT, or SVG drawn by Graphviz compiled to WebAssembly.
import type { Command } from 'commander';
import { buildMambaGraph } from '../../frontend/mamba-graph.ts';
import type { Graph } from '../../ir/graph.ts';
import { printGraph } from '../../ir/text/index.ts';
import { writeFileAtomic } from '../../util/atomic-write.ts';
import { focusByName } from '../../viz/focus.ts';
import { graphToDot, type DotOptions } from '../../viz/dot.ts';
import { renderSvg } from '../../viz/svg.ts';
import { SsmcError } from '../../errors.ts';
import type { CliIO } from '../io.ts';
import { choiceArg, intArg } from '../io.ts';
import { isIrFile, loadModel, readIrFile } from '../model.ts';
import type { PipelineFlags } from '../pipeline-flags.ts';
import { addPipelineFlags, applyPipelineFlags } from '../pipeline-flags.ts';

export const IR_FORMATS = ['text', 'dot', 'svg'] as const;
type IrFormat = (typeof IR_FORMATS)[number];

type Opts = PipelineFlags & { mode: 'decode' | 'prefill'; seqLen: number; output?: string; format: IrFormat; focus?: string; legend: boolean };

export function registerIr(program: Command, io: CliIO): Command {
  const cmd = program
    .command('ir')
    .description('print the IR of a model or IR file (after an optional pipeline) as text, or draw it as DOT / SVG')
    .argument('<model>', 'model (HF folder, .safetensors, .gguf) or IR text file (.ir)')
    .option('--mode <mode>', 'decode (one token) or prefill (a sequence)', choiceArg(['decode', 'prefill'] as const), 'decode')
    .option('--seq-len <L>', 'sequence length of a prefill graph', intArg(1, 1 << 20), 16)
    .option('--format <f>', 'text (IR text), dot (Graphviz source) or svg (drawn with the embedded WebAssembly Graphviz)', choiceArg(IR_FORMATS), 'text')
    .option('--focus <regex>', 'dot/svg: draw only the top-level nodes defining a value whose name matches, e.g. "^l1\\." for layer 1')
    .option('--no-legend', 'dot/svg: leave out the legend')
    .option('-o, --output <file>', 'write to a file instead of stdout');
  return addPipelineFlags(cmd).action(async (model: string, o: Opts) => {
    if (o.format === 'text' && (o.focus !== undefined || !o.legend)) throw new SsmcError('E_ARG', '--focus and --no-legend apply to --format dot or svg');
    const include = o.focus === undefined ? undefined : focusByName(o.focus);
    const source = isIrFile(model) ? readIrFile(model) : buildMambaGraph(loadModel(model), { mode: o.mode, seqLen: o.seqLen });
    const graph = applyPipelineFlags(source, o, io);
    if (include && !graph.nodes.some((n) => include(n))) throw new SsmcError('E_ARG', `--focus /${o.focus}/ matches no node of the graph`);
    const out = await render(graph, o.format, { include, legend: o.legend });
    if (o.output) writeFileAtomic(o.output, out);
    else io.out(out);
  });
}

async function render(graph: Graph, format: IrFormat, dot: DotOptions): Promise<string> {
  if (format === 'text') return printGraph(graph);
  const text = graphToDot(graph, dot);
  if (format === 'dot') return text;
  return renderSvg(text);
}
