// The CLI's one table of commands: what each is for, its arguments and options. Parsing, `--help`,
// `tollgate help <command>` and did-you-mean all read it, so help can never drift from what is accepted.

export interface OptionSpec {
  type: 'string' | 'boolean';
  /** Shown after the flag in help (`--account ID`); booleans have none. */
  value?: string;
  help: string;
  /** Shown without brackets in the synopsis; the handler enforces it (naming the flag). */
  required?: boolean;
}

export interface CommandSpec {
  /** `keys create`: a group word and a subcommand, or one word. */
  name: string;
  summary: string;
  /** Positional arguments in order; a trailing `…` takes any number (at least one). */
  args: string[];
  options: Record<string, OptionSpec>;
  /** Opens the database (everything but a few file-only commands). */
  database: boolean;
}

const month = {
  type: 'string',
  value: '2026-11',
  help: 'the billing period starting that month (default: current)',
} as const;
const account = { type: 'string', value: 'ID', help: 'the account id (acc_…)' } as const;

const SPECS: CommandSpec[] = [
  { name: 'serve', summary: 'run the sidecar (the default command)', args: [], options: {}, database: true },
  { name: 'migrate', summary: 'apply pending database migrations', args: [], options: {}, database: true },
  {
    name: 'apply',
    summary: 'validate a policy file whole and store it (nothing changes on error)',
    args: ['policy.yaml'],
    options: {},
    database: true,
  },
  {
    name: 'accounts create',
    summary: 'create an account on a tier',
    args: [],
    options: {
      name: { type: 'string', value: 'N', help: 'account name', required: true },
      tier: { type: 'string', value: 'T', help: 'a tier of the stored policy', required: true },
      'anchor-day': {
        type: 'string',
        value: '1-31',
        help: 'day of the month billing periods start (default 1)',
      },
      credits: { type: 'string', value: 'N', help: 'starting credit balance' },
    },
    database: true,
  },
  {
    name: 'accounts show',
    summary: 'tier, status, credit balance and keys (never key material)',
    args: ['account-id'],
    options: {},
    database: true,
  },
  {
    name: 'keys create',
    summary: 'a new API key, shown once (only its SHA-256 is stored)',
    args: [],
    options: {
      account: { ...account, required: true },
      name: { type: 'string', value: 'N', help: 'a label for the key' },
      'expires-in': { type: 'string', value: '30d', help: 'expiry as a duration (90m, 24h, 30d)' },
    },
    database: true,
  },
  { name: 'keys revoke', summary: 'revoke a key at once', args: ['key-id'], options: {}, database: true },
  {
    name: 'keys rotate',
    summary: 'a new key; the old one keeps working for the grace period',
    args: ['key-id'],
    options: { grace: { type: 'string', value: '24h', help: 'how long the old key keeps working' } },
    database: true,
  },
  {
    name: 'credits add',
    summary: 'add (or with a negative amount, remove) credits',
    args: [],
    options: {
      account: { ...account, required: true },
      amount: { type: 'string', value: 'N', help: 'credits to add, not 0', required: true },
      'idempotency-key': { type: 'string', value: 'K', help: 'a retry with the same key adds nothing' },
    },
    database: true,
  },
  {
    name: 'reservations list',
    summary: 'open reservations of metered calls (not settled nor expired), in Redis',
    args: [],
    options: { account: { ...account, required: true } },
    database: false,
  },
  {
    name: 'reservations settle',
    summary: 'settle a reservation at its actual units (default: the reserved amount), once',
    args: ['reservation'],
    options: { units: { type: 'string', value: 'N', help: 'the actual units' } },
    database: false,
  },
  {
    name: 'reservations cancel',
    summary: 'cancel a reservation: settle it at 0 units',
    args: ['reservation'],
    options: {},
    database: false,
  },
  {
    name: 'usage',
    summary: 'flushed usage of one billing period, by endpoint',
    args: [],
    options: { account: { ...account, required: true }, month },
    database: true,
  },
  {
    name: 'billing',
    summary: 'plan price (from the account start), included quota, overage to the cent, credits spent',
    args: [],
    options: { account: { ...account, required: true }, month },
    database: true,
  },
  {
    name: 'check',
    summary:
      'one decision, printed with the status and headers the proxy would see; exit 0 allowed, 1 denied',
    args: [],
    options: {
      key: { type: 'string', value: 'K', help: 'the API key (default: $TOLLGATE_KEY)' },
      method: { type: 'string', value: 'GET', help: 'HTTP method of the call (default GET)' },
      path: { type: 'string', value: '/', help: 'request path of the call (default /)' },
      endpoint: { type: 'string', value: 'E', help: 'endpoint name hint, as x-tollgate-endpoint' },
      cost: { type: 'string', value: 'N', help: 'cost hint, as x-tollgate-cost' },
    },
    database: true,
  },
  {
    name: 'export',
    summary: 'deliver the outbox (usage, quota events) to Stripe and/or the webhook until SIGTERM',
    args: [],
    options: { once: { type: 'boolean', help: 'deliver everything due now, then exit' } },
    database: true,
  },
  {
    name: 'import-envoy-ratelimit',
    summary: 'envoyproxy/ratelimit config files → a ratelimit_domains section on stdout (no database)',
    args: ['file.yaml…'],
    options: {
      merge: {
        type: 'boolean',
        help: 'merge files of one domain, as envoyproxy/ratelimit with MERGE_DOMAIN_CONFIG=true',
      },
    },
    database: false,
  },
  {
    name: 'schema policy',
    summary: 'the JSON Schema of the policy file (for editors and CI), on stdout (no database)',
    args: [],
    options: {},
    database: false,
  },
];

export const COMMAND_SPECS: ReadonlyMap<string, CommandSpec> = new Map(SPECS.map((s) => [s.name, s]));

/** `accounts`, `keys`, `credits`, `schema`: words that need a subcommand. */
export const GROUPS: ReadonlyMap<string, string[]> = new Map(
  SPECS.filter((s) => s.name.includes(' ')).reduce((groups, s) => {
    const [group, sub] = s.name.split(' ') as [string, string];
    groups.set(group, [...(groups.get(group) ?? []), sub]);
    return groups;
  }, new Map<string, string[]>()),
);

/** The options every command takes. */
export const COMMON_OPTIONS: Record<string, OptionSpec> = {
  json: { type: 'boolean', help: 'machine-readable output, errors included (snake_case, as the admin API)' },
  help: { type: 'boolean', help: 'this help' },
};
