// Entry point of `npm start`: serve with the configuration from the environment.

import { loadConfig } from './config.js';
import { InputError } from './errors.js';
import { serve } from './serve.js';

try {
  await serve(loadConfig());
} catch (err) {
  if (!(err instanceof InputError)) throw err;
  process.stderr.write(`tollgate: invalid configuration\n${err.message}\n`);
  process.exit(2);
}
