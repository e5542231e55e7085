"""Did it learn the voice? A run's tuned model against its base (and its GGUFs), measured side by side.

`evaluate_run` (run.py) is the whole eval; `python -m tuner eval RUN_DIR` runs it as a child process. The pure
text measures are in measures.py, held-out loss on the training mask in loss.py, the replies in generate.py, the
report (eval.json, eval.md) in report.py, two runs side by side in compare.py.
"""

from tuner.evaluate.report import EvalReport, read_report
from tuner.evaluate.run import DEFAULT_PROMPTS, evaluate_run

__all__ = ["DEFAULT_PROMPTS", "EvalReport", "evaluate_run", "read_report"]
