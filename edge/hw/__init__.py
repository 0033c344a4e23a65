"""Hardware ports and their adapters: real drivers and simulators side by side.

Adapters are picked by configuration in `edge.hw.factory`; a simulator is never a fallback.
"""
