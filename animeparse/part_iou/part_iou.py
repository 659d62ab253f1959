"""Part IoU: the animeparse segmentation metric as an ``evaluate`` module.

Load it from its folder (the Hub's ``mean_iou`` cannot be fetched offline)::

    import evaluate
    from animeparse.metrics import EVALUATE_MODULE
    metric = evaluate.load(str(EVALUATE_MODULE))
    metric.compute(predictions=[pred_map], references=[label_map], num_labels=16)

The numbers come from ``animeparse.metrics`` (confusion matrices), the same code training uses.
To score a merged schema (13 classes) as training reports it, give the merged maps that the app
and the batch command make, ``Prediction.labels(use, SCHEMA_13)`` (members' probabilities summed
before the argmax), and references remapped with ``labels.remap(label_map, MERGE_16_TO_13)``.
"""

import datasets
import evaluate
import numpy as np
import torch

from animeparse.labels import IGNORE_INDEX
from animeparse.metrics import confusion_matrix, summarize

_DESCRIPTION = """Mean intersection-over-union of part label maps, from one confusion matrix summed
over all images: mean_iou, mean_accuracy, overall_accuracy (pixel accuracy), per_category_iou and
per_category_accuracy (keyed by class name). A class absent from both labels and predictions has
IoU None and is left out of the means."""

_INPUTS = """
Args:
    predictions: list of (height, width) integer label maps.
    references: list of label maps of the same sizes; ignore_index marks pixels not counted.
    num_labels: number of classes.
    ignore_index: label value not counted (default 255).
    label_names: class names, in id order (default: the ids as strings).
Returns:
    dict with mean_iou, mean_accuracy, overall_accuracy, per_category_iou, per_category_accuracy.
"""

_CITATION = ""


class PartIoU(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=_DESCRIPTION,
            citation=_CITATION,
            inputs_description=_INPUTS,
            features=datasets.Features(
                {
                    "predictions": datasets.List(datasets.List(datasets.Value("uint16"))),
                    "references": datasets.List(datasets.List(datasets.Value("uint16"))),
                }
            ),
        )

    def _compute(self, predictions, references, num_labels, ignore_index=IGNORE_INDEX, label_names=None):
        names = list(label_names) if label_names is not None else [str(i) for i in range(num_labels)]
        if len(names) != num_labels:
            raise ValueError(f"label_names has {len(names)} names but num_labels is {num_labels}")
        total = torch.zeros(num_labels, num_labels, dtype=torch.int64)
        for pred, ref in zip(predictions, references):
            total += confusion_matrix(
                torch.from_numpy(np.asarray(pred, np.int64)), torch.from_numpy(np.asarray(ref, np.int64)), num_labels, ignore_index
            )
        return summarize(total, names)
