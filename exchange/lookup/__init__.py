"""The lookup service's domain: plans, the precheck, record and licence lookups, submissions."""
