"""Configuration as code (`manage.py export_config` / `import_config`): APIs, scopes, clients
without secrets, exchange policies and operator groups as one JSON or YAML document, so a
deployment can keep its configuration in git."""
