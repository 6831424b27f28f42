"""The AI stage's own error codes (on the shared error tree)."""

from __future__ import annotations

from distill_core.errors import PermanentError, RetryableError

BAD_OUTPUT = "AI_BAD_OUTPUT"


class AiBadOutput(RetryableError):
    """The model's answer was not the JSON asked for, even after one repair request.

    Retryable once: the stage turns a second AI_BAD_OUTPUT for the same item into a
    permanent failure (see AiStage.handle)."""

    code = BAD_OUTPUT


def final_bad_output(err: AiBadOutput) -> PermanentError:
    """The same failure, no longer retryable (the item has had its second chance)."""
    return PermanentError(f"{err.message} (again on the retry)", code=BAD_OUTPUT, **err.details)
