"""The example app the labs run: users API, lab endpoints, pool status, metrics."""
