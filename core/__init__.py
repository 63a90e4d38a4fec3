"""Shared kernel of vendtrack: settings, database base, events/outbox, audit log and master records."""
