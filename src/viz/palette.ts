// Colours shared by the graph drawing and the sparsity chart, so one legend reads both.
// Categorical colours are from ColorBrewer "Dark2" (distinguishable with common colour
// blindness); the n scale is a sequential blue ramp (darker = more pruned).
import type { MemoryKind } from '../ir/types.ts';

/** Edge and border colour of a tensor by memory kind; `none` = not decided (no select-layout yet). */
export const MEMORY_COLOR: Readonly<Record<MemoryKind | 'none', string>> = {
  buffer: '#d95f02',
  image2d: '#1f78b4',
  none: '#555555',
};

/** Fill for rows with n = 0..4 pruned per group of 4. */
export const N_COLORS: readonly string[] = ['#d9d9d9', '#c6dbef', '#6baed6', '#2171b5', '#08306b'];

/** Text colour readable on N_COLORS[n]. */
export const N_TEXT: readonly string[] = ['#000000', '#000000', '#000000', '#ffffff', '#ffffff'];

const CATEGORICAL = ['#1b9e77', '#d95f02', '#7570b3', '#e7298a', '#66a61e', '#e6ab02', '#a6761d', '#666666'];

/** A colour per category, in the order the categories are given (cycled past 8). */
export function categoryColors(categories: readonly string[]): Map<string, string> {
  return new Map(categories.map((c, i) => [c, CATEGORICAL[i % CATEGORICAL.length]]));
}

export const INPUT_FILL = '#e5f5e0';
export const OUTPUT_FILL = '#fde0dd';
export const GROUP_FILL = '#f4f4fb';
export const GROUP_BORDER = '#8c8cc8';
export const RESULTS_FILL = '#e3e3f3';

/** Weight fill: white-ish when dense, toward orange as the C_n^4 sparsity grows. */
export function weightFill(sparsity: number | undefined): string {
  if (sparsity === undefined) return '#f2f2f2';
  const s = Math.min(1, Math.max(0, sparsity));
  const from = [0xff, 0xf5, 0xeb];
  const to = [0xfd, 0x8d, 0x3c];
  return `#${from.map((f, i) => Math.round(f + (to[i] - f) * s).toString(16).padStart(2, '0')).join('')}`;
}
