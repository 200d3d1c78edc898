// The built-in passes, registered through the same public `registerPass` user passes
// call. pipeline.ts imports this module, so resolving a pipeline always sees them
// (whichever module of src/passes a caller imports first). A new built-in pass is one
// file plus one line here.
import { castWeightsPass } from './cast-weights.ts';
import { cse } from './cse.ts';
import { dce } from './dce.ts';
import { fuseOps } from './fuse-ops.ts';
import { materializeLayout } from './materialize-layout.ts';
import { registerPass } from './pass.ts';
import { reorderWeights } from './reorder-weights.ts';
import { selectLayout } from './select-layout.ts';
import { sparsifyCn4 } from './sparsify-cn4.ts';
import { sparseFinetune } from './sparse-finetune.ts';

export const builtinPasses = [dce, cse, fuseOps, sparsifyCn4, reorderWeights, castWeightsPass] as const;

for (const p of builtinPasses) registerPass(p);
registerPass(selectLayout);
registerPass(materializeLayout);
registerPass(sparseFinetune);

export { cse, dce, fuseOps, sparsifyCn4, reorderWeights };
