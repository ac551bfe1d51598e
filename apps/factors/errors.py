"""The one error the factor services raise: a refusal the person is told about, and nothing
changed."""


class FactorError(Exception):
    """A second factor was refused. ``code`` names the reason for programs and tests;
    ``message`` says it to the person (already translated)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
