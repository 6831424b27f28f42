"""Export destinations: `markdown` (files in a vault) and `notion` (pages in a database)."""

from distill_notion.destinations.base import Destination, ExportJob, Published

__all__ = ["Destination", "ExportJob", "Published"]
