"""Literal model-quality outputs of the service (data for tests; not computed by this project).

Real: AWS's churn model-quality example, run of 2021-05-18 (aws/amazon-sagemaker-examples,
`sagemaker_model_monitor/model_quality/model_quality_churn_sdk.ipynb`, commit 3b5c7016): the baseline's
metric table as the notebook printed it (6 significant digits) and the hourly run's
constraint_violations.json lines and CloudWatch metric names, word for word.
Documented: the examples of the developer guide's "Model quality metrics" page.
"""

# --- the real baseline (201 rows: probability, prediction = probability > 0.8, label) -------------
BASELINE_ITEM_COUNT = 201
BASELINE_CONFUSION = {"0": {"0": 173, "1": 0}, "1": {"0": 12, "1": 16}}
# binary_classification_metrics keys in file order (pandas json_normalize of statistics.json).
BASELINE_KEYS = [
    "confusion_matrix", "recall", "precision", "accuracy",
    "recall_best_constant_classifier", "precision_best_constant_classifier", "accuracy_best_constant_classifier",
    "true_positive_rate", "true_negative_rate", "false_positive_rate", "false_negative_rate",
    "receiver_operating_characteristic_curve", "precision_recall_curve", "auc", "f0_5", "f1", "f2",
    "f0_5_best_constant_classifier", "f1_best_constant_classifier", "f2_best_constant_classifier",
]  # fmt: skip
# value, standard deviation as printed (6 significant digits).
BASELINE_TABLE = {
    "recall": (0.571429, 0.0417634),
    "precision": (1, 0),
    "accuracy": (0.940299, 0.00817967),
    "recall_best_constant_classifier": (0, 0),
    "precision_best_constant_classifier": (0, 0),
    "accuracy_best_constant_classifier": (0.860697, 0.00883993),
    "true_positive_rate": (0.571429, 0.0417634),
    "true_negative_rate": (1, 0),
    "false_positive_rate": (0, 0),
    "false_negative_rate": (0.428571, 0.0417634),
    "auc": (0.939513, 0.010836),
    "f0_5": (0.869565, 0.0183259),
    "f1": (0.727273, 0.032845),
    "f2": (0.625, 0.039555),
    "f0_5_best_constant_classifier": (0, 0),
    "f1_best_constant_classifier": (0, 0),
    "f2_best_constant_classifier": (0, 0),
}
BASELINE_CURVE_FIELDS = {
    "receiver_operating_characteristic_curve": ["false_positive_rates", "true_positive_rates"],
    "precision_recall_curve": ["precisions", "recalls"],
}
# constraints.json of the real baseline, in file order (threshold as printed, operator).
BASELINE_CONSTRAINTS = [
    ("recall", 0.571429, "LessThanThreshold"),
    ("precision", 1, "LessThanThreshold"),
    ("accuracy", 0.940299, "LessThanThreshold"),
    ("true_positive_rate", 0.571429, "LessThanThreshold"),
    ("true_negative_rate", 1, "LessThanThreshold"),
    ("false_positive_rate", 0, "GreaterThanThreshold"),
    ("false_negative_rate", 0.428571, "GreaterThanThreshold"),
    ("auc", 0.939513, "LessThanThreshold"),
    ("f0_5", 0.869565, "LessThanThreshold"),
    ("f1", 0.727273, "LessThanThreshold"),
    ("f2", 0.625, "LessThanThreshold"),
]

# --- the real hourly run (1892 matched records) -----------------------------------------------------
# constraint_violations.json in file order: (constraint_check_type, metric_name, description).
RUN_VIOLATIONS = [
    ("LessThanThreshold", "auc",
     "Metric auc with 0.5127590160341251 +/- 0.007142408259978924 was LessThanThreshold '0.9395127993393898'"),
    ("LessThanThreshold", "precision",
     "Metric precision with 0.6933333333333334 +/- 0.008913499334568326 was LessThanThreshold '1.0'"),
    ("LessThanThreshold", "truePositiveRate",
     "Metric truePositiveRate with 0.11353711790393013 +/- 0.002574434249783218 was LessThanThreshold "
     "'0.5714285714285714'"),
    ("LessThanThreshold", "f1",
     "Metric f1 with 0.19512195121951217 +/- 0.003988472303075431 was LessThanThreshold '0.7272727272727273'"),
    ("LessThanThreshold", "accuracy",
     "Metric accuracy with 0.31976744186046513 +/- 0.00424371790418494 was LessThanThreshold '0.9402985074626866'"),
    ("GreaterThanThreshold", "falsePositiveRate",
     "Metric falsePositiveRate with 0.13320463320463322 +/- 0.003088585432650178 was GreaterThanThreshold '0.0'"),
    ("LessThanThreshold", "trueNegativeRate",
     "Metric trueNegativeRate with 0.8667953667953667 +/- 0.003088585432650151 was LessThanThreshold '1.0'"),
    ("GreaterThanThreshold", "falseNegativeRate",
     "Metric falseNegativeRate with 0.8864628820960698 +/- 0.002574434249783216 was GreaterThanThreshold "
     "'0.4285714285714286'"),
    ("LessThanThreshold", "recall",
     "Metric recall with 0.11353711790393013 +/- 0.002574434249783218 was LessThanThreshold '0.5714285714285714'"),
    ("LessThanThreshold", "f2",
     "Metric f2 with 0.13633980073413737 +/- 0.0030045699484029633 was LessThanThreshold '0.625'"),
]  # fmt: skip
RUN_MESSAGE = "CompletedWithViolations: Job completed successfully with 10 violations."
RUN_ITEM_COUNT = 1892
# The CloudWatch metric names the run published (console order).
RUN_CLOUDWATCH_NAMES = [
    "precision_best_constant_classifier", "recall", "f2", "f0_5_best_constant_classifier",
    "f2_best_constant_classifier", "f1_best_constant_classifier", "auc", "precision",
    "accuracy_best_constant_classifier", "true_positive_rate", "f1", "accuracy", "false_positive_rate", "f0_5",
    "true_negative_rate", "false_negative_rate", "recall_best_constant_classifier",
]  # fmt: skip
RUN_NAMESPACE = "aws/sagemaker/Endpoints/model-metrics"

# --- the developer guide's examples ("Model quality metrics and Amazon CloudWatch monitoring") ---------
DOC_BINARY_CONFUSION = {"0": {"0": 1, "1": 2}, "1": {"0": 0, "1": 1}}
DOC_BINARY_SCALARS = {
    "recall": 1.0,
    "precision": 0.3333333333333333,
    "accuracy": 0.5,
    "recall_best_constant_classifier": 1.0,
    "precision_best_constant_classifier": 0.25,
    "accuracy_best_constant_classifier": 0.25,
    "true_positive_rate": 1.0,
    "true_negative_rate": 0.33333333333333337,
    "false_positive_rate": 0.6666666666666666,
    "false_negative_rate": 0.0,
    "f0_5": 0.3846153846153846,
    "f1": 0.5,
    "f2": 0.7142857142857143,
    "f0_5_best_constant_classifier": 0.29411764705882354,
    "f1_best_constant_classifier": 0.4,
    "f2_best_constant_classifier": 0.625,
}  # (its curves and auc describe 4 positives and do not fit its matrix)
DOC_MULTICLASS_CONFUSION = {"0": {"0": 1180, "1": 510}, "1": {"0": 268, "1": 138}}
DOC_MULTICLASS_KEYS = [
    "confusion_matrix", "accuracy", "weighted_recall", "weighted_precision", "weighted_f0_5", "weighted_f1",
    "weighted_f2", "accuracy_best_constant_classifier", "weighted_recall_best_constant_classifier",
    "weighted_precision_best_constant_classifier", "weighted_f0_5_best_constant_classifier",
    "weighted_f1_best_constant_classifier", "weighted_f2_best_constant_classifier",
]  # fmt: skip
DOC_MULTICLASS_SCALARS = {
    "accuracy": 0.6288167938931297,
    "weighted_recall": 0.6288167938931297,
    "weighted_precision": 0.6983172269629505,
    "weighted_f0_5": 0.6803947317178771,
    "weighted_f1": 0.6571162346664904,
    "weighted_f2": 0.6384024354394601,
    "accuracy_best_constant_classifier": 0.19370229007633588,
    "weighted_recall_best_constant_classifier": 0.19370229007633588,
    "weighted_precision_best_constant_classifier": 0.03752057718081697,
    "weighted_f0_5_best_constant_classifier": 0.04473443104152011,
    "weighted_f1_best_constant_classifier": 0.06286421244683643,
    "weighted_f2_best_constant_classifier": 0.10570313141262414,
}
# The regression example is the same 2096 records read as numbers (labels 0/1, 778 errors of 1).
DOC_REGRESSION = {"mae": 0.3711832061068702, "mse": 0.3711832061068702, "rmse": 0.609248066149471,
                  "r2": -1.3766111872212665}  # fmt: skip
