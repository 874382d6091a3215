"""sequence's entrypoints: the HTTP API, the Kafka subscriptions and publications, the command line."""
