// Handlebars environments for the backends: one per template folder, with every file
// of its `partials/` registered under its name. Templates only loop and substitute.
import Handlebars from 'handlebars';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const envs = new Map<string, typeof Handlebars>();

export function templateEnv(templateDir: string): typeof Handlebars {
  let hb = envs.get(templateDir);
  if (hb) return hb;
  hb = Handlebars.create();
  const dir = join(templateDir, 'partials');
  for (const f of readdirSync(dir)) {
    if (f.endsWith('.hbs')) hb.registerPartial(f.slice(0, -4), readFileSync(join(dir, f), 'utf8'));
  }
  envs.set(templateDir, hb);
  return hb;
}
