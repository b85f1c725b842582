"""One module per cloud: its SDK session and credentials, calls in a worker thread, the audit
of every call and one table from error codes to temporary / permanent errors. Each cloud SDK is
imported by its own module only (an import-linter contract), lazily."""
