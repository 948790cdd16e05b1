"""Pure rules: configuration, gates, green commits, lost fixes, picks, payloads, the
calendar. No I/O, no forge, no engine (docs/architecture.md)."""
