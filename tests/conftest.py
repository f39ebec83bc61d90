pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.storage",
    # Before the stack, which imports it.
    "tests.fixtures.smtp",
    "tests.fixtures.stack",
]
