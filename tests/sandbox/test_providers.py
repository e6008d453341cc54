"""ListProviders over REST: the providers behind the environment's connections, then the custom
providers, filtered by type and identifier, paged; its field rules answer 400, code 3."""

from __future__ import annotations

from tests.sandbox.conftest import Agent, assert_gateway_error

PROVIDERS = "/api/v1/providers"


def test_list_providers_follows_connections_and_custom_providers(agent: Agent) -> None:
    listed = agent.http.get(PROVIDERS)
    assert listed.status_code == 200, listed.text
    built_in = listed.json()["providers"]
    # one per provider of the default connections, in their order (Google backs two)
    assert [p["identifier"] for p in built_in] == [
        "GOOGLE",
        "SLACK",
        "NOTION",
        "GITHUB",
        "EXA",
    ]
    assert listed.json()["total_size"] == 5
    exa = built_in[-1]
    assert exa["auth_patterns"] == [{"type": "API_KEY"}]
    assert exa["is_custom"] is False and exa["id"].startswith("prv_")

    created = agent.http.post(
        "/api/v1/custom-providers",
        json={
            "display_name": "My App",
            "proxy_url": "https://myapp.example.com/api",
            "auth_patterns": [{"type": "BEARER"}],
        },
    )
    assert created.status_code == 201, created.text
    identifier = created.json()["provider"]["identifier"]

    # no type is DEFAULT ("DEFAULT (or omitted) keeps existing behavior"): built-in only
    assert agent.http.get(PROVIDERS).json()["total_size"] == 5
    everything = agent.http.get(PROVIDERS, params={"filter.provider_type": "ALL"}).json()
    assert [p["identifier"] for p in everything["providers"]][-1] == identifier
    custom = agent.http.get(PROVIDERS, params={"filter.provider_type": "CUSTOM"}).json()
    assert [(p["identifier"], p["is_custom"]) for p in custom["providers"]] == [(identifier, True)]
    defaults = agent.http.get(PROVIDERS, params={"filter.provider_type": "DEFAULT"}).json()
    assert identifier not in [p["identifier"] for p in defaults["providers"]]
    one = agent.http.get(PROVIDERS, params={"identifier": "SLACK"}).json()
    assert [p["identifier"] for p in one["providers"]] == ["SLACK"]

    all_types = {"filter.provider_type": "ALL", "page_size": 4}
    first = agent.http.get(PROVIDERS, params=all_types).json()
    assert len(first["providers"]) == 4 and first["total_size"] == 6
    rest = agent.http.get(
        PROVIDERS, params={**all_types, "page_token": first["next_page_token"]}
    ).json()
    assert [p["identifier"] for p in rest["providers"]] == ["EXA", identifier]

    agent.http.delete(f"/api/v1/custom-providers/{identifier}")
    gone = agent.http.get(PROVIDERS, params={"filter.provider_type": "CUSTOM"}).json()
    assert gone.get("providers", []) == []


def test_list_providers_field_rules(agent: Agent) -> None:
    assert_gateway_error(agent.http.get(PROVIDERS, params={"identifier": "no spaces"}), 400, 3)
    assert_gateway_error(agent.http.get(PROVIDERS, params={"page_size": "many"}), 400, 3)
    assert_gateway_error(agent.http.get(PROVIDERS, params={"page_token": "garbage!"}), 400, 3)


def test_provider_pages_hold_fifty_and_names_are_title_case(agent: Agent) -> None:
    for number in range(46):
        created = agent.http.post(
            "/api/v1/custom-providers",
            json={
                "display_name": f"Tool {number}",
                "proxy_url": "https://tools.example.com",
                "auth_patterns": [{"type": "BEARER"}],
            },
        )
        assert created.status_code == 201, created.text
    first = agent.http.get(PROVIDERS, params={"filter.provider_type": "ALL"}).json()
    assert (len(first["providers"]), first["total_size"]) == (50, 51)
    assert first["providers"][3]["display_name"] == "Github"  # GITHUB, in title case
    rest = agent.http.get(
        PROVIDERS, params={"filter.provider_type": "ALL", "page_token": first["next_page_token"]}
    ).json()
    assert [p["display_name"] for p in rest["providers"]] == ["Tool 45"]
