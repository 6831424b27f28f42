"""The AI stage: parsed content in, summary / keywords / insights / recipe out.

One output row per item (ai_outputs, id derived from item and stage, so a redelivered
job rewrites the same row). Pages with no usable text never reach a model: they complete
with no_content set. A recipe the parser already found (JSON-LD) is kept and no model is
asked for one, nor for text without any recipe cues. AI_BAD_OUTPUT is retried once: a
second one for the same item is final. See docs/ai.md.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from distill_core import tracing
from distill_core.ai_models import DEFAULT_NAME, ModelConfig
from distill_core.db.models import AiOutput, ParsedContent
from distill_core.db.rows import get_by_id, get_by_ids
from distill_core.errors import PermanentError
from distill_core.runner import BaseStage, JobContext, StageResult, StageRunner, store
from sqlalchemy.ext.asyncio import AsyncConnection

from distill_ai import prompts, recipe_heuristic, segment
from distill_ai.errors import BAD_OUTPUT, AiBadOutput, final_bad_output
from distill_ai.providers import Provider, make_provider
from distill_ai.results import Document, Usage, Want
from distill_ai.settings import AiSettings

# What an ai_outputs row holds (handle() fills each one).
_COLUMNS = (
    "id",
    "tenant_id",
    "item_id",
    "parsed_content_id",
    "provider",
    "model",
    "recipe",
    "keywords",
    "insights",
    "summary",
    "no_content",
    "usage",
)
ROWS = store.ResultRows(AiOutput, _COLUMNS)


class AiStage(BaseStage):
    name = "ai"

    def __init__(self, settings: AiSettings) -> None:
        self.settings = settings
        self.models: dict[str, ModelConfig] = settings.models()
        self._providers: dict[str, Provider] = {}
        self.runner: StageRunner | None = None

    async def start(self, runner: StageRunner) -> None:
        self.runner = runner
        await self.provider(DEFAULT_NAME).start()

    async def stop(self) -> None:
        for p in self._providers.values():
            await p.aclose()
        self._providers.clear()

    def provider(self, name: str) -> Provider:
        """The provider of a named model (one per name per process, so its limits are shared)."""
        if name not in self._providers:
            cfg = self.models.get(name)
            if cfg is None:
                known = ", ".join(sorted(self.models))
                raise PermanentError(
                    f"ai.model {name!r} is not a model this AI stage knows (known: {known})", code="AI_UNKNOWN_MODEL"
                )
            self._providers[name] = make_provider(
                name,
                cfg,
                max_rate_wait=self.settings.ai_max_rate_wait,
                map_concurrency=self.settings.ai_map_concurrency,
            )
        return self._providers[name]

    async def prepare(self, conn: AsyncConnection, items: list[dict[str, Any]]) -> None:
        """The parsed content of the whole batch in one query (handle() reads it from the item)."""
        found = await get_by_ids(conn, ParsedContent, (i.get("parsed_content_id") for i in items))
        for i in items:
            if i.get("parsed_content_id") in found:
                i["parsed_content"] = found[i["parsed_content_id"]]

    async def _parsed(self, ctx: JobContext) -> dict[str, Any]:
        pcid = ctx.item.get("parsed_content_id")
        if not pcid:
            raise PermanentError("the item has no parsed content to work on", code="NO_PARSED_CONTENT")
        row = ctx.item.get("parsed_content")
        if row is None:
            assert self.runner is not None and self.runner.engine is not None
            async with self.runner.engine.connect() as conn:
                row = await get_by_id(conn, ParsedContent, pcid)
        if row is None:
            raise PermanentError(f"parsed content {pcid} no longer exists", code="NO_PARSED_CONTENT")
        return row

    def want(self, opts: dict[str, Any]) -> Want:
        s = self.settings
        return Want(
            summary=bool(opts.get("generate_summary", True)),
            keywords=bool(opts.get("generate_keywords", True)),
            insights=bool(opts.get("generate_insights", True)),
            summary_sentences=s.ai_summary_sentences,
            n_keywords=s.ai_keywords,
            n_insights=s.ai_insights,
        )

    def usable_text(self, pc: dict[str, Any]) -> str:
        """The text to work on: the page's text, else its description; "" when neither has enough words."""
        for candidate in (pc.get("text") or "", pc.get("description") or ""):
            if segment.usable(candidate, self.settings.ai_min_words):
                return candidate
        return ""

    async def handle(self, ctx: JobContext) -> StageResult:
        pc = await self._parsed(ctx)
        opts = ctx.ai_options
        name = opts.get("model") or DEFAULT_NAME
        provider = self.provider(name)
        want = self.want(opts)
        parsed_recipe = pc.get("recipe")
        want_recipe = bool(opts.get("extract_recipe", False)) and not parsed_recipe
        usage = Usage()
        row: dict[str, Any] = {
            "id": ctx.result_id(),
            "tenant_id": ctx.tenant_id,
            "item_id": uuid.UUID(ctx.item_id),
            "parsed_content_id": pc["id"],
            "provider": provider.kind,
            "model": provider.model,
            "recipe": parsed_recipe,
            "keywords": [],
            "insights": [],
            "summary": None,
            "no_content": False,
        }
        text = self.usable_text(pc)
        if not text:
            row["no_content"] = True
            row["usage"] = usage.as_dict(model_name=name)
            return StageResult(row=row, ai_output_id=row["id"], message="no content: nothing to summarise")
        doc = Document(text=text, title=pc.get("title") or "", language=pc.get("language"), url=pc.get("url") or "")
        t0 = time.monotonic()
        try:
            with tracing.span("ai analyze", {"gen_ai.system": provider.kind, "gen_ai.request.model": name}) as sp:
                if want.anything:
                    a = await provider.analyze(doc, want, usage, ctx.progress)
                    row.update(summary=a.summary, keywords=a.keywords, insights=a.insights)
                if want_recipe and recipe_heuristic.has_recipe_cues(text):
                    row["recipe"] = await provider.extract_recipe(doc, usage)
                tracing.set_attributes(sp, _usage_attributes(usage))
        except AiBadOutput as e:
            if (ctx.item.get("phase_error") or {}).get("code") == BAD_OUTPUT:
                raise final_bad_output(e) from None
            raise
        row["model"] = getattr(provider, "served_model", None) or provider.model
        row["usage"] = usage.as_dict(
            model_name=name,
            prompt_version=prompts.VERSION if provider.kind != "local" else None,
            wall_ms=int((time.monotonic() - t0) * 1000),
        )
        return StageResult(row=row, ai_output_id=row["id"], message=_message(row, provider, usage))

    async def persist(self, conn: AsyncConnection, done: list[tuple[JobContext, StageResult]]) -> None:
        await ROWS.write(conn, done)


def _usage_attributes(usage: Usage) -> dict[str, Any]:
    return {
        "gen_ai.usage.input_tokens": usage.prompt_tokens,
        "gen_ai.usage.output_tokens": usage.completion_tokens,
        "distill.llm_requests": usage.requests,
    }


def _message(row: dict[str, Any], provider: Provider, usage: Usage) -> str:
    got = []
    if row["summary"]:
        got.append("summary")
    if row["keywords"]:
        got.append(f"{len(row['keywords'])} keywords")
    if row["insights"]:
        got.append(f"{len(row['insights'])} insights")
    if row["recipe"]:
        got.append("recipe")
    how = f"{provider.kind} {row['model']}"
    if usage.requests:
        how += f", {usage.requests} requests, {usage.prompt_tokens + usage.completion_tokens} tokens"
    return f"{', '.join(got) or 'nothing asked'} ({how})"
