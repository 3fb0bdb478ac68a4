"""Stage failures, classified where they are caught: transient ones are retried, permanent ones dead-lettered."""


class StageError(Exception):
    """A stage attempt failed; `retryable` says whether another attempt can help."""

    retryable: bool = True

    def __init__(self, message: str, *, code: str = "stage_error") -> None:
        super().__init__(message)
        self.code = code


class TransientError(StageError):
    """Timeouts, rate limits, 5xx, connection resets: worth another attempt after a backoff.

    `retry_after` (seconds) is the least wait the other side asked for, e.g. a 429's `retry-after` header.
    """

    retryable = True

    def __init__(self, message: str, *, code: str = "stage_error", retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class PermanentError(StageError):
    """Invalid stage input, a 4xx that is not 429: another attempt gives the same answer."""

    retryable = False
