"""The payout ledger: batch runs, payout lifecycle, outbox, payment files, audit log."""
