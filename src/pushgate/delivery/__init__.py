"""The delivery pipeline: queue back ends, fan-out, workers, retries and rate limits."""
