pytest_plugins = [
    "tests.fixtures.database",
    "tests.fixtures.storage",
    # Before the stack, which imports it.
    "tests.fixtures.smtp",
    "tests.fixtures.stack",
    # The portal's browser: Chromium, and a page on the stack's portal.
    "tests.e2e.browser",
]
