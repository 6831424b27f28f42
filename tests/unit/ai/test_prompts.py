from distill_ai import prompts
from distill_ai.results import Want


def test_prompts_ask_for_json_and_only_for_what_is_wanted() -> None:
    msgs = prompts.analyze("Some text.", Want(summary=True, keywords=False, insights=True, n_insights=2), title="T")
    assert [m["role"] for m in msgs] == ["system", "user"]
    user = msgs[1]["content"]
    assert "JSON" in user and '"summary"' in user and '"insights"' in user and '"keywords"' not in user
    assert "at most 2 key facts" in user
    assert 'Title: T\nText:\n"""\nSome text.\n"""' in user


def test_map_and_reduce_prompts() -> None:
    part = prompts.analyze_part("Chunk.", Want(), 2, 5, title="T")[1]["content"]
    assert "part 2 of 5" in part and "Title:" not in part  # the title goes with the first part only
    combined = prompts.combine([{"summary": "a"}, {"summary": "b"}], Want())[1]["content"]
    assert '"summary": "a"' in combined and "consecutive parts" in combined


def test_repair_keeps_the_conversation_and_says_what_is_wrong() -> None:
    first = prompts.recipe("Caption")
    msgs = prompts.repair(first, "{oops", 'missing "title"')
    assert msgs[: len(first)] == first
    assert msgs[-2] == {"role": "assistant", "content": "{oops"}
    assert 'missing "title"' in msgs[-1]["content"] and "JSON" in msgs[-1]["content"]


def test_schemas_match_the_prompts() -> None:
    s = prompts.schema("analysis", Want(keywords=False, n_insights=2))
    assert s["required"] == ["summary", "insights"] and s["properties"]["insights"]["maxItems"] == 2
    r = prompts.schema("recipe")
    assert (
        set(prompts.RECIPE_KEYS) <= set(r["properties"]) and r["properties"]["cook_time_minutes"]["type"] == "integer"
    )


def test_the_version_is_named() -> None:
    assert prompts.VERSION.startswith("v")
