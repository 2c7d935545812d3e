"""Secrets lifecycle: the Fernet key (status, rotation, start-up check) and Vault."""
