"""Preference training: DPO on pairs (the chosen reply over the rejected one) and KTO on rated replies, with TRL's
DPOTrainer/KTOTrainer and a PEFT LoRA on top of a tuned run's merged model (`hearth train --method dpo|kto --from RUN`).

- `rows.py`: preference files → rendered rows (prompt text exactly as chat renders it, reply + end of turn)
- `train.py`: the run (`python -m tuner train RUN_DIR` dispatches here for `train.method: dpo|kto`)
- `margin.py`: the chosen-over-rejected log-probability margin a model gives held-out pairs
"""
