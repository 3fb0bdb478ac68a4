"""Stage failures, classified where they are caught: transient ones are retried, permanent ones dead-lettered."""


class StageError(Exception):
    """A stage attempt failed; `retryable` says whether another attempt can help."""

    retryable: bool = True

    def __init__(self, message: str, *, code: str = "stage_error") -> None:
        super().__init__(message)
        self.code = code


class TransientError(StageError):
    """Timeouts, rate limits, 5xx, connection resets: worth another attempt after a backoff."""

    retryable = True


class PermanentError(StageError):
    """Invalid stage input, a 4xx that is not 429: another attempt gives the same answer."""

    retryable = False
