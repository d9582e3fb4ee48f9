"""Webhooks out: endpoints, signed delivery with retries, and the relay that runs it."""
