"""Second factors: authenticator apps (TOTP), passkeys (WebAuthn) and recovery codes."""
