"""lavad's HTTP side: the root resource, the REST API (Klein) and what it mounts."""
