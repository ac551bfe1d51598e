"""bench/token_bench.py reads wrk's output and reports the comparison with node-oidc-provider:
a run with a failed request is refused, never averaged in. Needs neither wrk nor node."""

import pytest

from bench.token_bench import FailedRequests, parse_wrk, peer_report

WRK_OUTPUT = """Running 5s test @ http://127.0.0.1:9123/token
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.89ms    8.58ms  85.33ms   87.35%
    Req/Sec     0.94k   479.68     1.97k    64.00%
  Latency Distribution
     50%    6.84ms
     75%   12.50ms
     90%   20.41ms
     99%    1.02s
  9422 requests in 5.02s, 7.38MB read
{errors}Requests/sec:   1876.51
Transfer/sec:      1.47MB
"""


def test_parse_wrk_reads_the_rate_and_latencies_in_ms():
    assert parse_wrk(WRK_OUTPUT.format(errors="")) == {"rps": 1876.51, "p50": 6.84, "p99": 1020.0}


def test_a_run_with_non_2xx_responses_is_refused():
    with pytest.raises(FailedRequests, match=r"^12 non-2xx responses in:"):
        parse_wrk(WRK_OUTPUT.format(errors="  Non-2xx or 3xx responses: 12\n"))


def test_a_run_with_socket_errors_is_refused():
    errors = "  Socket errors: connect 0, read 3, write 0, timeout 7\n"
    with pytest.raises(FailedRequests, match=r"^3 socket read errors, 7 socket timeout errors in:"):
        parse_wrk(WRK_OUTPUT.format(errors=errors))


def test_peer_report_gives_the_ratio_of_medians_and_no_ratio_for_a_refused_side():
    runs = [{"rps": 600.0, "p50": 25.0, "p99": 60.0}]
    peer = {
        "versions": {"oidc-provider": "9.13.3", "node": "v20.20.2"},
        "cases": {
            "client_credentials ES256": {
                "ours": {"rps": 600.0, "p50": 25.0, "p99": 60.0, "runs": runs},
                "node-oidc-provider": {"rps": 2400.0, "p50": 5.0, "p99": 20.0, "runs": runs},
                "node-oidc-provider, stored": {"refused": "12 non-2xx responses", "runs": []},
            }
        },
        "peak_rss_mib": {"node-oidc-provider": [130.0, 131.0]},
    }

    lines = peer_report("postgres", peer)

    assert (
        "| client_credentials ES256 | node-oidc-provider | 600 | 25.00 / 60.00 | 2400 | 5.00 / 20.00 | 0.25 |" in lines
    )
    assert (
        "| client_credentials ES256 | node-oidc-provider, stored | 600 | 25.00 / 60.00"
        " | refused: 12 non-2xx responses |  |  |" in lines
    )
    assert (
        "client_credentials ES256, tokens/s run by run: ours 600; node-oidc-provider 600;"
        " node-oidc-provider, stored refused" in lines
    )
