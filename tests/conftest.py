pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.storage",
    "tests.fixtures.stack",
    "tests.fixtures.smtp",
]
