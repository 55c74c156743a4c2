"""The runtime every layer below the command line shares: settings, metrics, logs, the
hub's own stores, the Temporal client and its payload codec, encryption keys."""
