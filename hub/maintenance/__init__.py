"""Maintenance of the workshop's machines: plans with counters and thresholds, alerts, lockout.

A monitor thread compares each plan's counter (from the ledger) to its thresholds, raises one
alert per crossing and locks an overdue machine; a maintainer's intervention resets the plan.
"""
