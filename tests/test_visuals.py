"""What an answer carries for the chat page to draw (`orchestra.graphs.visuals`)."""

from __future__ import annotations

from orchestra.graphs.visuals import visuals


def test_a_market_turn_carries_its_segments_and_its_segment_growth_when_a_segment_was_asked() -> None:
    facts = {
        "market": {"industry": "Healthtech", "segment": "Telehealth"},
        "region": "Europe",
        "size": [{"year": 2025, "market_size_usd": 9e9, "growth_pct": 20.0}],
        "segment_size": [{"year": 2025, "market_size_usd": 2e9, "growth_pct": 28.5, "extra": 1}],
        "segment_size_evidence": "E3",
        "segments": [{"segment": "Telehealth", "companies": 4, "revenue_usd": 1.5e8}],
        "segments_evidence": "E4",
    }
    market = visuals(facts)["market"]
    assert market["name"] == "Telehealth (Europe)"
    assert market["growth"] == [{"year": 2025, "market_size_usd": 2e9, "growth_pct": 28.5}]
    assert market["growth_evidence"] == "E3"
    assert market["segments"] == [{"segment": "Telehealth", "revenue_usd": 1.5e8, "companies": 4}]


def test_a_deployment_carries_its_link_and_only_its_screenshots_file_name() -> None:
    facts = {
        "deployment": {"url": "http://127.0.0.1:1/d/x/", "production_url": "http://127.0.0.1:1/p/x/", "evidence": "E4"},
        "test": {"screenshot": "/data/playwright/screenshots/dpl_x.png", "screenshot_evidence": "E7"},
    }
    shown = visuals(facts)["deployment"]
    assert shown == {"url": "http://127.0.0.1:1/d/x/", "production_url": "http://127.0.0.1:1/p/x/",
                     "screenshot": "dpl_x.png", "evidence": "E7"}  # fmt: skip


def test_a_turn_with_nothing_to_draw_carries_nothing() -> None:
    assert visuals({}) == {}
    assert visuals({"market": {"industry": "Fintech", "segment": None}}) == {}
    assert visuals({"deployment": {"url": None}})["deployment"]["screenshot"] is None
