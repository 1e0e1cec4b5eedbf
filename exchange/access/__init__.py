"""Who may ask the exchange what: clients and their roles, sharing requests, the field policy."""
