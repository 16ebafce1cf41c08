"""Invoices: amounts owed, their due dates and their life from draft to paid."""
