"""Offline re-implementation of the SageMaker Model Monitor data-quality analyzer.

It writes the same `statistics.json`, `constraints.json` and `constraint_violations.json` as the
service, bit for bit where the service's algorithm is known (see
`docs/model-monitor-contract.md` in the shared docs). Runtime needs: numpy and pyarrow only.
"""
