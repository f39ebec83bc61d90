"""Accounts for people: sign-up and sign-in with an email and a password, a session in a
cookie, the email verified and the password reset by mail."""
