"""lavad's HTTP side: the root resource, the REST API and what it mounts."""
