// Entry point of `npm start`: serve with the configuration from the environment.

import { startServing } from './start-serving.js';

await startServing();
