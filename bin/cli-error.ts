// The error a CLI command throws to exit with a message and a code. Its own module so the commands
// (bin/commands/*) need not import bin/cli.ts, which loads them: no import cycle.
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}
