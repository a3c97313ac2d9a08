// CLI output: JSON with --json, else one human line. stdout is the CLI's interface, so console is right here.

export function print(args: string[], json: unknown, human: string): void {
  console.log(args.includes('--json') ? JSON.stringify(json, null, 2) : human);
}
