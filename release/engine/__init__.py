"""The engine driver: the Automation API, crash recovery and the day-two flows
(docs/architecture.md)."""
