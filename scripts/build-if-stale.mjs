// `npm start`'s prestart: rebuild only when a build input changed since dist/ was built (tsc takes ~10 s).
import { execSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { STAMP, sourceHash } from './source-hash.mjs';

const built = existsSync(STAMP) && existsSync('dist/main.js') && existsSync('dist/cli/main.js');
if (built && readFileSync(STAMP, 'utf8').trim() === sourceHash()) {
  process.stderr.write('dist/ is current (no source changed since the last build)\n');
} else {
  execSync('npm run -s build', { stdio: 'inherit' });
}
