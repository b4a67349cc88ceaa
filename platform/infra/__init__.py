"""The infrastructure hall: the database pool, Valkey, the cache, errors, headers, logging and tracing,
metrics, migrations and the API's processes."""
