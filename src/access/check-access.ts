// The use case every transport calls: AccessRequest → Decision (throws StoreUnavailable on store failure).

import type { AccessRequest } from './access-request.js';
import type { Decision } from './decision.js';

export type CheckAccess = (request: AccessRequest) => Promise<Decision>;
