// The legend of the graph drawing: one Graphviz HTML table (a plain node, not a
// cluster, so clusters stay exactly the fused groups).
import { GROUP_FILL, INPUT_FILL, MEMORY_COLOR, OUTPUT_FILL, RESULTS_FILL, weightFill } from './palette.ts';

const row = (sample: string, text: string, bg?: string) =>
  `<TR><TD${bg ? ` BGCOLOR="${bg}"` : ''}>${sample}</TD><TD ALIGN="LEFT">${text}</TD></TR>`;

// A short bar of the edge colour (ASCII only: the embedded Graphviz has no metrics for other glyphs).
const line = (color: string, dashed = false) =>
  dashed
    ? `<FONT COLOR="${color}"><B>- - - -</B></FONT>`
    : `<TABLE BORDER="0" CELLPADDING="0" CELLSPACING="0"><TR><TD BGCOLOR="${color}" WIDTH="36" HEIGHT="3" FIXEDSIZE="TRUE"></TD></TR></TABLE>`;

export function legendLabel(): string {
  return [
    '<<TABLE BORDER="0" CELLBORDER="1" CELLSPACING="0" CELLPADDING="3">',
    '<TR><TD COLSPAN="2"><B>legend</B></TD></TR>',
    row('input', 'graph input (token, layer states)', INPUT_FILL),
    row('output', 'graph output', OUTPUT_FILL),
    row('@weight', 'dense weight', weightFill(undefined)),
    row('@weight', 'C_n^4 sparse weight: % pruned, rows with n=0..4 pruned of 4; darker = sparser', weightFill(0.5)),
    row('op', 'operation: kind, results, result types'),
    row('kernel', 'fused group (cluster) holding its body; its results node', GROUP_FILL),
    row('fused.group', 'results node: where the group\'s values leave it', RESULTS_FILL),
    row(line(MEMORY_COLOR.buffer), 'value in OpenCL buffer memory (text in this colour too)'),
    row(line(MEMORY_COLOR.image2d), 'value in OpenCL image2d memory (text in this colour too)'),
    row(line(MEMORY_COLOR.none), 'memory kind not decided (before select-layout)'),
    row(line(MEMORY_COLOR.none, true), 'weight read'),
    '</TABLE>>',
  ].join('');
}
