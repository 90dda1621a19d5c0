/**
 * Errors the user can act on: the message says what went wrong and what to
 * do. The CLI prints them without a stack trace and exits with `exitCode`.
 */
export class UserError extends Error {
  /** Process exit status for this error (2: usage or environment). */
  readonly exitCode: number;

  constructor(message: string, exitCode = 2) {
    super(message);
    this.name = 'UserError';
    this.exitCode = exitCode;
  }
}

/** The text of any thrown value, for messages. */
export function errorText(error: unknown): string {
  if (error instanceof Error) {
    return error.message;
  }
  return String(error);
}

/**
 * A command line the command cannot read (an unknown option, a missing or
 * mistyped value, too many arguments); `code` is util.parseArgs' code for
 * the same mistake.
 */
export class UsageError extends UserError {
  constructor(
    message: string,
    readonly code:
      | 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
      | 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE'
      | 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
  ) {
    super(message, 2);
    this.name = 'UsageError';
  }
}
