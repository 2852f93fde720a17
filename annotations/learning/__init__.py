"""Online learning: accepted labels become new live versions, one writer at a time, and can be undone.

``online.learn_from_annotation`` reads top to bottom: take the writer lock → settle or wait for
consensus → fit the label onto the live version (the backend) → move the live alias if the forgetting
guard passed (``modelops``' alias service) → record what became of the labels. The rest keeps that
safe: ``writer`` (the deployment-wide lock), ``lineage`` (what an interrupted run already made),
``replay`` (embeddings and earlier labels), ``sweep`` (labels whose job was lost), ``undo``, ``unlearn``
(the head refitted without a deleted or no longer shared photo), ``warmup``.
"""
