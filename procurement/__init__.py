"""Purchasing: suppliers, reorder policy, purchase orders and approvals, PDFs, transmission, receiving."""
