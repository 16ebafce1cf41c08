"""Building blocks that know no domain: money, currencies, time zones, pagination."""
