"""Training loops of the three training stages (pretrain_2d, pretrain_depth, adversarial).

Read one loop (pretrain_2d.py, pretrain_depth.py, adversarial.py) top to bottom with
loop_setup.py beside it: what every loop sets up and calls, in the order it does. Behind them:
session.py (resume, logging, checkpoints, the outputs), checkpoint.py and distributed.py
(torchrun's process group).
"""
