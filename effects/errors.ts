// The base of every effect adapter's typed error. `code` is the adapter's own
// vocabulary (EEXIST, Conflict, Throttling…); `retryable` is a fact about the
// failure, not a decision: the caller chooses its retry policy.
export class EffectError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly retryable: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }
}
