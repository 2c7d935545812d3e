"""Sign-in and authorisation: LDAP through ldap3, the generated webserver_config.py, roles as code."""
