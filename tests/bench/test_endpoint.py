"""The bench's token endpoint (token_endpoint.js) counts what the agent
did, not what the bench itself did: the connections it reports are those
that carried a token request, so the bench's own GET /stats (a new
connection each time it looks, some 300 times in a paced storm of 20 s)
does not make a longer storm seem to open more connections."""

import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))

import harness  # noqa: E402
import scale  # noqa: E402


class Endpoint(unittest.TestCase):
    def test_stats_requests_are_not_counted_as_connections(self):
        ep = scale.TokenEndpoint(64, 3600)
        try:
            for _ in range(5):
                self.assertEqual(ep.stats()["connections"], 0)
            status, body = harness.post_form(
                ep.url, {"grant_type": "refresh_token",
                         "refresh_token": "rt.endpoint-test"})
            self.assertEqual(status, 200, body)
            stats = ep.stats()
            self.assertEqual(stats["requests"], 1)
            self.assertEqual(stats["connections"], 1)
            self.assertEqual(stats["max_open"], 1)
        finally:
            ep.stop()


if __name__ == "__main__":
    unittest.main()
