"""What the datasets app announces, for higher apps to act on (docs/architecture.md, "Seams")."""

from django.dispatch import Signal

# Sent inside an import's transaction when the file carried its own annotators' labels
# (PandaLM): ``dataset`` and ``labels``, ``{pair id: ((annotator name, choice), ...)}`` of the
# pairs this import created. A receiver stores them and returns how many it stored; an error
# rolls the whole import back.
annotator_labels_imported = Signal()
