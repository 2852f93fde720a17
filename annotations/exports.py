"""The labels taken out: one row per shared photo that was labeled or marked unusable, as CSV or JSON lines,
and the photos laid out one folder per consensus label (the layout ``train --images`` reads).

The columns are described once, in ``python manage.py export_labels --help``.
"""

from __future__ import annotations

import csv
import json
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from django.db.models import Q, QuerySet

from annotations.agreement import pairwise_agreement
from annotations.consensus import decided_label
from annotations.models import Annotation
from predictions.models import Expression, Prediction
from predictions.selectors import predictions_shared

FORMATS = ("csv", "jsonl")
LABEL_COLUMN = "label:"  # + username: one column per annotator
CHUNK = 500  # rows read from the database at a time


@dataclass(frozen=True)
class ExportRow:
    id: str
    created: str
    labels: dict[str, str]  # annotator username → label
    consensus: str | None
    adjudicated: bool
    agreement: float | None
    unusable: str
    model_version: str
    predicted: str
    probabilities: dict[str, float]
    image_name: str  # the stored file, for the folder layout; never exported as a column


def predictions_exported() -> QuerySet[Prediction]:
    """Shared photos with at least one label, a decision or an ``unusable`` mark, oldest first."""
    marked = Q(annotations__isnull=False) | Q(adjudication__isnull=False) | ~Q(unusable="")
    ids = predictions_shared().filter(marked).values("pk")
    return Prediction.objects.filter(pk__in=ids).order_by("created", "pk")


def export_annotators() -> list[str]:
    """Every username that labeled an exported photo, sorted: the CSV's label columns."""
    labeled = Annotation.objects.filter(image__in=predictions_exported().values("pk"))
    return sorted(set(labeled.values_list("annotator__username", flat=True)))


def export_rows() -> Iterator[ExportRow]:
    """One row per exported photo, read in chunks so a large project streams."""
    photos = predictions_exported().select_related("adjudication").prefetch_related("annotations__annotator")
    for photo in photos.iterator(chunk_size=CHUNK):
        given = list(photo.annotations.all())
        votes = [{"label": a.label, "annotator": a.annotator.get_username()} for a in given]
        decision = getattr(photo, "adjudication", None)
        yield ExportRow(
            id=str(photo.pk),
            created=photo.created.isoformat(),
            labels={vote["annotator"]: vote["label"] for vote in votes},
            consensus=decided_label(
                [a.label for a in given],
                adjudicated=decision.label if decision is not None else None,
                suspect=any(a.suspect_since is not None for a in given),
            ),
            adjudicated=decision is not None,
            agreement=pairwise_agreement([vote["label"] for vote in votes]),
            unusable=photo.unusable,
            model_version=photo.model_version,
            predicted=photo.label,
            probabilities={label: float(photo.probabilities.get(label, 0.0)) for label in Expression.values},
            image_name=photo.image.name,
        )


def csv_header(annotators: list[str]) -> list[str]:
    return [
        "id",
        "created",
        *(LABEL_COLUMN + name for name in annotators),
        "labels",
        "consensus",
        "adjudicated",
        "agreement",
        "unusable",
        "model_version",
        "predicted",
        *(f"p_{label}" for label in Expression.values),
    ]


def csv_record(row: ExportRow, annotators: list[str]) -> list[object]:
    return [
        row.id,
        row.created,
        *(row.labels.get(name, "") for name in annotators),
        len(row.labels),
        row.consensus or "",
        "true" if row.adjudicated else "false",
        "" if row.agreement is None else f"{row.agreement:.4f}",
        row.unusable,
        row.model_version,
        row.predicted,
        *(f"{row.probabilities[label]:.6f}" for label in Expression.values),
    ]


class _Line:
    """A file-like object whose ``write`` hands the line back: ``csv.writer`` one row at a time, for streaming."""

    def write(self, value: str) -> str:
        return value


def export_lines(export_format: str) -> Iterator[str]:
    """The export as text lines (a header first for CSV): for a file or a streaming response."""
    if export_format == "csv":
        annotators = export_annotators()
        writer = csv.writer(_Line())
        yield writer.writerow(csv_header(annotators))
        for row in export_rows():
            yield writer.writerow(csv_record(row, annotators))
    elif export_format == "jsonl":
        for row in export_rows():
            record = asdict(row)
            del record["image_name"]
            yield json.dumps(record) + "\n"
    else:
        raise ValueError(f"unknown export format {export_format!r}: use one of {', '.join(FORMATS)}")


@dataclass(frozen=True)
class ImagesExported:
    copied: int
    without_consensus: int
    unusable: int


def images_export(*, rows: Iterable[ExportRow], directory: Path) -> ImagesExported:
    """Copy each usable photo with a consensus to ``directory/<consensus>/<id>.jpg``; count those left out."""
    storage = Prediction._meta.get_field("image").storage
    copied = without_consensus = unusable = 0
    for row in rows:
        if row.unusable:
            unusable += 1
            continue
        if row.consensus is None:
            without_consensus += 1
            continue
        folder = directory / row.consensus
        folder.mkdir(parents=True, exist_ok=True)
        with storage.open(row.image_name, "rb") as source, (folder / f"{row.id}.jpg").open("wb") as target:
            shutil.copyfileobj(source, target)
        copied += 1
    return ImagesExported(copied=copied, without_consensus=without_consensus, unusable=unusable)
