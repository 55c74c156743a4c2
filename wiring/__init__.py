"""The wiring of outside services from settings: which connectors a process uses, metered."""
