"""GX Data Docs: where they are built and how to find the page of one validation.

Every validation is rendered into one static site (default `data/quality-docs/`, or
MOLLIE_LEDGER_QUALITY_DOCS); the Dagster check links the page of its own validation. The site's
index lists the validations of the current process (the ephemeral context keeps its results in
memory); pages of earlier runs stay in the folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

ENV_DOCS = "MOLLIE_LEDGER_QUALITY_DOCS"
DEFAULT_DOCS = Path("data") / "quality-docs"
SITE_NAME = "mollie_ledger"


def docs_folder(folder: str | os.PathLike[str] | None = None) -> Path:
    """The Data Docs folder: explicit, else MOLLIE_LEDGER_QUALITY_DOCS, else data/quality-docs."""
    return Path(folder or os.environ.get(ENV_DOCS) or DEFAULT_DOCS).resolve()


def add_site(context: Any, folder: Path) -> None:
    """Give a GX context a filesystem Data Docs site in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    context.add_data_docs_site(
        site_name=SITE_NAME,
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {
                "class_name": "TupleFilesystemStoreBackend",
                "base_directory": str(folder),
            },
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )


def build_pages(context: Any, identifiers: list[Any]) -> list[Path | None]:
    """Render these validation results (ValidationResultIdentifiers) and the index, once.

    One build per suite rather than GX's UpdateDataDocsAction per validation: each build
    recompiles GX's Jinja templates (~0.4 s), whatever it renders.
    """
    context.build_data_docs(
        site_names=[SITE_NAME], resource_identifiers=identifiers, build_index=True
    )
    return [validation_page(context, identifier) for identifier in identifiers]


def index_page(folder: Path) -> Path:
    return folder / "index.html"


def validation_page(context: Any, identifier: Any) -> Path | None:
    """The HTML page of one validation result (a ValidationResultIdentifier), if built."""
    for site in context.get_docs_sites_urls(
        resource_identifier=identifier, site_names=[SITE_NAME], only_if_exists=True
    ):
        url = site.get("site_url")
        if url:
            return Path(unquote(urlparse(url).path))
    return None
