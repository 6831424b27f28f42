"""Block building honours Notion's limits by construction (checked with the fake server's own validators)."""

from __future__ import annotations

import json

import pytest
from distill_notion import notion_blocks as nb

from tests.fakes.notion_server import ApiError, check_children, check_rich_text, plain


def all_text(blocks: list[dict]) -> str:
    out = []
    for b in blocks:
        out.append(plain(b[b["type"]].get("rich_text", [])))
        out.append(all_text(nb.children_of(b)))
    return "".join(out)


def test_split_text_cuts_at_2000_utf16_units_and_keeps_every_character() -> None:
    text = ("lorem ipsum " * 1000) + "🙂" * 1500 + "x" * 4001
    pieces = nb.split_text(text)
    assert "".join(pieces) == text
    assert all(nb.utf16_len(p) <= 2000 for p in pieces)
    assert max(nb.utf16_len(p) for p in pieces) >= 1990  # full pieces, not tiny ones
    # An emoji counts twice, as JavaScript (and Notion) count it.
    assert nb.utf16_len("🙂") == 2 and len(nb.split_text("🙂" * 1001)) == 2


def test_split_text_prefers_a_space_near_the_end() -> None:
    text = ("abcdefghi " * 300).strip()
    first = nb.split_text(text)[0]
    assert first.endswith(" ") and len(first) > 1800


def test_the_fake_rejects_2001_characters_and_the_builder_never_sends_them() -> None:
    with pytest.raises(ApiError) as e:
        check_rich_text([{"type": "text", "text": {"content": "x" * 2001}}], "body.children[0].paragraph.rich_text")
    assert e.value.code == "validation_error" and "≤ `2000`, instead was `2001`" in e.value.message
    rt = nb.rich_text("x" * 2001)
    check_rich_text(rt, "rt")
    assert [len(r["text"]["content"]) for r in rt] == [2000, 1]


def test_rich_text_keeps_at_most_100_elements_and_says_it_was_cut() -> None:
    rt = nb.rich_text("y" * (2000 * 150))
    assert len(rt) == 100
    assert rt[-1]["text"]["content"].endswith(nb.ELLIPSIS)
    check_rich_text(rt, "rt")


def test_links_longer_than_2000_characters_become_plain_text() -> None:
    long_url = "https://example.com/?" + "q" * 2100
    [block] = nb.link_paragraph("Source: ", long_url)
    rt = block["paragraph"]["rich_text"]
    assert all("link" not in r["text"] for r in rt)
    assert plain(rt) == "Source: " + long_url
    check_children([block], "body.children", 1)
    [short] = nb.link_paragraph("Source: ", "https://example.com/a")
    assert short["paragraph"]["rich_text"][1]["text"]["link"] == {"url": "https://example.com/a"}


def test_text_to_blocks_reads_headings_lists_quotes_and_paragraphs() -> None:
    text = "# Title\n\nFirst paragraph\nstill first.\n\n## Part\n\n- one\n  - one.a\n- two\n1. step\n> quoted\n\nLast."
    blocks = nb.text_to_blocks(text)
    kinds = [b["type"] for b in blocks]
    assert kinds == [
        "heading_2",
        "paragraph",
        "heading_3",
        "bulleted_list_item",
        "bulleted_list_item",
        "numbered_list_item",
        "quote",
        "paragraph",
    ]
    assert plain(blocks[1]["paragraph"]["rich_text"]) == "First paragraph\nstill first."
    assert plain(nb.children_of(blocks[3])[0]["bulleted_list_item"]["rich_text"]) == "one.a"
    assert nb.depth(blocks) == 2


def test_text_without_blank_lines_has_one_paragraph_per_line() -> None:
    blocks = nb.text_to_blocks("line one\nline two\nline three")
    assert [plain(b["paragraph"]["rich_text"]) for b in blocks] == ["line one", "line two", "line three"]


def test_deep_lists_are_flattened_to_two_levels() -> None:
    text = "- a\n  - b\n    - c\n      - d"
    blocks = nb.text_to_blocks(text)
    assert nb.depth(blocks) <= nb.MAX_DEPTH
    assert all_text(blocks) == "abcd"
    check_children(blocks, "body.children", 1)


def test_a_nested_list_never_gets_more_than_100_children() -> None:
    text = "- parent\n" + "\n".join(f"  - child {i}" for i in range(250))
    blocks = nb.text_to_blocks(text)
    assert len(nb.children_of(blocks[0])) == 100
    assert nb.count_elements(blocks) == 251
    for batch in nb.batches(blocks):
        check_children(batch, "body.children", 1)


def doc(**kw: object) -> dict:
    base = {
        "item_id": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "title": "Bread",
        "url": "https://example.com/bread",
        "summary": "A short summary.",
        "keywords": ["baking", "bread"],
        "insights": ["Flour matters.", "Time matters."],
        "recipe": {
            "ingredients": ["500 g flour", "10 g salt"],
            "instructions": ["Mix.", "Bake."],
            "yields": "1 loaf",
            "total_time_minutes": 240,
        },
        "text": "Bread is old.\nIt is good.",
    }
    base.update(kw)
    return base


def test_body_has_every_section_in_order() -> None:
    blocks = nb.body_blocks(doc())
    headings = [plain(b[b["type"]]["rich_text"]) for b in blocks if b["type"].startswith("heading")]
    assert headings == ["Summary", "Keywords", "Insights", "Recipe", "Ingredients", "Steps", "Full text"]
    kinds = [b["type"] for b in blocks]
    assert kinds.count("to_do") == 2 and kinds.count("numbered_list_item") == 2
    source = next(b for b in blocks if b["type"] == "paragraph" and "Source" in plain(b["paragraph"]["rich_text"]))
    assert source["paragraph"]["rich_text"][1]["text"]["link"]["url"] == "https://example.com/bread"
    assert "Bread is old." in all_text(blocks)
    assert "Yields: 1 loaf" in all_text(blocks) and "Total: 240 min" in all_text(blocks)


def test_ingredients_as_bulleted_list_and_text_left_out_on_request() -> None:
    blocks = nb.body_blocks(doc(), include_text=False, ingredients_as="bulleted")
    kinds = [b["type"] for b in blocks]
    assert "to_do" not in kinds
    assert "Bread is old." not in all_text(blocks)
    assert all_text(blocks).count("500 g flour") == 1


def long_article(paragraphs: int = 700, words: int = 60) -> str:
    return "\n".join(
        f"Paragraph {i}: " + " ".join(f"word{(i * 7 + k) % 97}" for k in range(words)) for i in range(paragraphs)
    )


def test_batches_respect_100_children_1000_elements_and_the_payload_budget() -> None:
    text = long_article() + "\n" + "Z" * 150_000 + "\n" + "é" * 90_000
    blocks = nb.body_blocks(doc(text=text))
    assert len(blocks) > 700
    batches = list(nb.batches(blocks, first_budget=nb.PAYLOAD_BUDGET - 2000))
    assert len(batches) >= 8
    assert sum(len(b) for b in batches) == len(blocks)
    assert [blk for batch in batches for blk in batch] == blocks  # order kept
    for batch in batches:
        assert len(batch) <= 100
        assert nb.count_elements(batch) <= 1000
        assert len(json.dumps({"children": batch}, ensure_ascii=False).encode()) <= nb.PAYLOAD_BUDGET
        check_children(batch, "body.children", 1)
    assert all_text(blocks).count("Z") >= 150_000


def test_a_huge_multibyte_paragraph_stays_under_the_payload_limit() -> None:
    # 4-byte characters: a naive 100 x 2,000-character block would be 1.6 MB.
    blocks = nb.paragraph("𝔘" * 300_000)
    assert all(len(json.dumps(b, ensure_ascii=False).encode()) < nb.MAX_PAYLOAD_BYTES // 4 for b in blocks)
    for batch in nb.batches(blocks):
        assert len(nb.encoded({"children": batch})) <= nb.PAYLOAD_BUDGET
        check_children(batch, "body.children", 1)
