"""``GET /metrics`` in Prometheus' text format, on both stores."""

from __future__ import annotations

from router_support import Api, client_for, make_router, metric_samples


def test_metrics_count_decisions_queue_depth_and_waits(tmp_path, router_db_url):
    router = make_router(tmp_path, url=router_db_url)
    with client_for(router) as client:
        api = Api(client)
        api.presence("bob")
        for _ in range(3):
            assert api.create(queue="voice").status_code == 201
        api.advance(4.0)
        api.presence("ann")  # the second contact waited 4 s
        response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    samples = metric_samples(response.text)
    assert samples["openwfm_router_decisions_total"] == 2  # bob's, then ann's
    assert samples['openwfm_router_queue_depth{center="tiny",queue="voice",state="queued"}'] == 1
    assert samples['openwfm_router_queue_depth{center="tiny",queue="voice",state="offered"}'] == 2
    assert samples['openwfm_router_wait_to_offer_seconds_count{center="tiny"}'] == 2
    assert samples['openwfm_router_wait_to_offer_seconds_bucket{center="tiny",le="0.005"}'] == 1
    assert samples['openwfm_router_wait_to_offer_seconds_sum{center="tiny"}'] == 4.0
    # SQLite: one process, always the holder; PostgreSQL: the virtual clock runs no timer loop
    held = 1 if router_db_url.startswith("sqlite") else 0
    assert samples['openwfm_router_lease_held{center="tiny"}'] == held
    assert samples["openwfm_router_routing_passes_total"] == 0  # the virtual clock: no loop
    events = samples['openwfm_router_events_total{center="tiny"}']
    assert events == len(api.events())
