"""HTTPS for the api-server: a local CA and server certificate, and the settings that use them."""
