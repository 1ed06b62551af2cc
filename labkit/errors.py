"""Named errors, each with a message that says what to do next."""


class LabkitError(RuntimeError):
    """Base class for every error labkit raises on purpose."""


class DatabaseUnavailableError(LabkitError):
    """No PostgreSQL could be found or started."""


class EmbeddedServerError(LabkitError):
    """The embedded PostgreSQL server could not be set up, started or stopped."""


class AppStartError(LabkitError):
    """The example app did not come up."""
