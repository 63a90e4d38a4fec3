"""After the PO is sent: the supplier's acknowledgement, ship notices and invoices (signed link, CSV or cXML),
the buyer's decisions on them and the three-way match. Imports core and procurement only."""
