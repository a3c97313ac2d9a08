#!/usr/bin/env node
// The `tollgate` command: runs the compiled CLI (built by `npm install` / `npm run build`).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('tollgate: not built yet; run `npm run build` first\n');
    process.exit(1);
  }
  throw err;
});
