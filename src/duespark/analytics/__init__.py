"""Analytics: where the money is, as the books stood at the end of a day (``as_of``)."""
