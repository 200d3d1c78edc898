// The reference runner: the interpreter over decode and prefill graphs.
import { SsmcError } from '../../errors.ts';
import type { Graph } from '../../ir/graph.ts';
import { Interpreter } from '../../ir/interpreter.ts';
import { liftToSequence } from '../../ir/sequence.ts';
import type { Tensor } from '../../ir/tensor.ts';
import { f32 } from '../../ir/tensor.ts';
import { io } from '../../frontend/mamba-graph.ts';
import type { ModelRunner, StateSnapshot } from '../../runtime/runner.ts';

export interface InterpRunnerOptions {
  /** Builds the prefill graph of a given length; by default the decode graph lifted to it. */
  readonly prefillGraph?: (seqLen: number) => Graph;
}

export class InterpRunner implements ModelRunner {
  readonly vocabSize: number;
  readonly #decode: Interpreter;
  readonly #nLayer: number;
  readonly #prefill = new Map<number, Interpreter>();
  readonly #opts: InterpRunnerOptions;
  #conv: Float32Array[] = [];
  #ssm: Float32Array[] = [];

  constructor(decode: Graph, opts: InterpRunnerOptions = {}) {
    this.#decode = new Interpreter(decode);
    this.#opts = opts;
    const logits = decode.nodes.flatMap((n) => n.outputs).find((v) => v.name === io.logits);
    if (!logits) throw new SsmcError('E_ARG', `decode graph @${decode.name} has no %${io.logits} output`);
    this.vocabSize = logits.type.shape[logits.type.shape.length - 1];
    this.#nLayer = decode.inputs.filter((v) => v.name.startsWith('conv.')).length;
    this.reset();
  }

  reset(): void {
    const g = this.#decode.graph;
    const size = (name: string) => g.inputs.find((v) => v.name === name)!.type.shape.reduce((a, b) => a * b, 1);
    this.#conv = Array.from({ length: this.#nLayer }, (_, i) => new Float32Array(size(io.conv(i))));
    this.#ssm = Array.from({ length: this.#nLayer }, (_, i) => new Float32Array(size(io.ssm(i))));
  }

  step(token: number): Float32Array {
    return this.#run(this.#decode, Int32Array.of(token));
  }

  prefill(tokens: Int32Array): Float32Array {
    if (tokens.length === 0) return new Float32Array(0);
    let interp = this.#prefill.get(tokens.length);
    if (!interp) {
      const L = tokens.length;
      interp = new Interpreter(this.#opts.prefillGraph?.(L) ?? liftToSequence(this.#decode.graph, L, { sequenceInputs: [io.token] }));
      this.#prefill.set(tokens.length, interp);
    }
    return this.#run(interp, tokens);
  }

  saveState(): StateSnapshot {
    return { conv: this.#conv.map((a) => a.slice()), ssm: this.#ssm.map((a) => a.slice()) };
  }

  restoreState(s: StateSnapshot): void {
    if (s.conv.length !== this.#nLayer || s.ssm.length !== this.#nLayer) throw new SsmcError('E_ARG', `state has ${s.conv.length} layers, model has ${this.#nLayer}`);
    this.#conv = s.conv.map((a, i) => checkedCopy(a, this.#conv[i].length, `conv.${i}`));
    this.#ssm = s.ssm.map((a, i) => checkedCopy(a, this.#ssm[i].length, `ssm.${i}`));
  }

  close(): void {
    this.#prefill.clear();
  }

  #run(interp: Interpreter, tokens: Int32Array): Float32Array {
    const inputs: Record<string, Int32Array | Float32Array> = { [io.token]: tokens };
    for (let i = 0; i < this.#nLayer; i++) {
      inputs[io.conv(i)] = this.#conv[i];
      inputs[io.ssm(i)] = this.#ssm[i];
    }
    const out: Record<string, Tensor> = interp.run(inputs);
    for (let i = 0; i < this.#nLayer; i++) {
      this.#conv[i] = f32(out[io.convNext(i)]);
      this.#ssm[i] = f32(out[io.ssmNext(i)]);
    }
    return f32(out[io.logits]);
  }
}

function checkedCopy(a: Float32Array, n: number, what: string): Float32Array {
  if (a.length !== n) throw new SsmcError('E_ARG', `state ${what} has ${a.length} values, model needs ${n}`);
  return a.slice();
}
