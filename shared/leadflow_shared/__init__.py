"""leadflow's shared package: what every service needs and nothing more.

Event contracts, the CloudEvents envelope, the outbox relay, tracked Kafka consumers,
typed settings and the local infrastructure used by `make run` and the tests.
"""
