"""The platform's consent statements: published versions, and their words stored once by
sha256."""
