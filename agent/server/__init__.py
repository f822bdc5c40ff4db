"""`devops-agent serve`: the Alertmanager webhook, the durable work queue and the HTTP API."""
