"""The shop floor: machines, slots, workers, rules, dispense/return/restock flows, stock ledger, kiosk."""
