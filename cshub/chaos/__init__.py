"""``make chaos``: run the whole hub on loopback, hurt it, and count what customers got.

The run (``python -m cshub.chaos``, bounded in time and count):

1. generates a portfolio of N customers (sandbox demo data: company, contact, won deal),
   and works out from the real playbooks (``cshub simulate``) which e-mails, Slack
   alerts and CRM tasks the hub owes each one for the events it will be sent;
2. starts the Temporal dev server (SQLite), the emulators, the webhook API and a worker
   as separate processes;
3. sends signed webhooks (deal won → onboarding, two failed payment attempts → dunning)
   in random order, every one of them twice, and retries them like the providers do on
   503 or no answer; meanwhile it SIGKILLs the worker several times, stops and restarts
   the Temporal server, switches the emulators' chaos on (429 with Retry-After, 500,
   503, answers later than the client's timeout) and takes Slack down for a while;
4. waits for the hub to catch up and prints what was expected, delivered and
   duplicated, and how many workflows failed; exit status 0 only for
   "0 lost, 0 duplicated, 0 failed".
"""
